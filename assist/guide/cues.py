"""Phrases that mark call stages, checklist items and customer states in Korean speech.

Taken from the customer-center guides (inbound flow, complaint handling, customer types):
what an agent says at each step and how callers sound when they doubt, hurry or escalate.
Patterns allow missing spaces, since recognizer output is often unspaced.
"""
from __future__ import annotations

import re

__all__ = ["AGENT", "CUSTOMER", "matches"]


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


AGENT: dict[str, re.Pattern[str]] = {
    "greeting": _any(r"(안녕하세요|감사합니다|반갑습니다).{0,40}(입니다|이에요)", r"한빛텔레콤"),
    "team_name": _any(r"(팀|센터|상담실)\s*(상담원\s*)?[가-힣]{2,4}\s*입니다"),
    "identity": _any(r"본인\s*확인", r"생년\s*월일", r"명의자", r"성함", r"주민\s*번호\s*앞"),
    "restate": _any(r"말씀이시(죠|군요|지요)", r"말씀이신(가요|거죠)", r"(신|으신|하신|는)\s*거죠\??",
                    r"라는\s*말씀", r"말씀하신\s*(내용|건)", r"이시라는\s*거죠", r"(셨|으셨)다는\s*(거죠|말씀)",
                    r"(시는|으시는|하시는|계시는|셨|으셨)군요", r"(라|다)고\s*하셨(죠|는데)",
                    r"(셨|으셨)겠(어요|습니다)"),
    "question": _any(r"(까요|나요|세요|가요|시죠|어요|겠어요|인가요|될까요)\s*\?", r"언제부터", r"어떤\s*(문제|증상|부분)",
                     r"여쭤\s*봐도"),
    "options": _any(r"방법(도|이)\s*있", r"(두|세)\s*가지", r"첫\s*번째", r"방법과.{0,40}방법", r"아니면", r"거나\s", r"선택하", r"중에서",
                    r"(하실|드릴)\s*수도\s*있", r"원하시면"),
    "resolution": _any(r"(처리해|접수해|안내해|신청해|변경해|등록해|보내|잡아|적용해|예약해|빼|넣어|추천)\s*드리(겠|ㄹ게|고|ㅂ니다)",
                       r"(추천|안내)\s*드릴게요", r"(보내|해|잡아|넣어)\s*드릴게요",
                       r"(처리|완료|적용|접수|등록|변경|예약|발송|해지|정지)\s*(되었|됐|했|해\s*두었|해\s*드렸|완료)",
                       r"가능합니다", r"적용됩니다", r"확인해\s*보니", r"결론부터", r"방법을\s*말씀드리면",
                       r"(걸었|막혔|보냈)습니다", r"(결제|청구|출금|적용)(됩니다|되었습니다|되어서)",
                       r"(드리기|하시기)\s*어렵습니다", r"면제", r"차단(했|되었|해)", r"방법이\s*있습니다",
                       r"원이\s*(더\s*)?(나왔|청구)"),
    "summary": _any(r"정리(해\s*드리면|하면|해\s*드릴게요|하자면|해\s*드리겠|해\s*드릴게)", r"요약", r"다시\s*한\s*번\s*(안내|말씀)",
                    r"말씀드린\s*대로"),
    "anything_else": _any(r"더\s*(궁금하신|필요하신|도와드릴|문의)", r"다른\s*(문의|궁금)",
                          r"또\s*(궁금|필요)"),
    "closing": _any(r"(좋은|행복한|편안한|즐거운)\s*(하루|오후|저녁|시간|주말|여행)", r"다녀오세요",
                    r"(시길|하시길|되시길)\s*바랍니다",
                    r"감사합니다.{0,20}(였습니다|이었습니다)", r"들어가세요", r"이용해\s*주셔서"),
    "apology": _any(r"죄송", r"사과", r"송구"),
    "empathy": _any(r"이해(합|가\s*됩|하)", r"불편하셨", r"속상하", r"화가\s*나", r"답답하셨", r"놀라셨",
                    r"번거로우셨", r"걱정(되|이\s*되)"),
    "hold": _any(r"잠시만?\s*기다려", r"잠깐\s*기다려", r"확인해\s*보겠습니다"),
}

CUSTOMER: dict[str, re.Pattern[str]] = {
    "supervisor": _any(r"책임자", r"상급자", r"팀장", r"윗사람", r"관리자", r"매니저"),
    "cancel_threat": _any(r"해지(할|하겠|해\s*주세요|해버|할게|하려|시켜)", r"(끊|옮기|바꾸)(을|겠|ㄹ)\s*(거|게|래)",
                          r"다른\s*(통신사|데)로", r"번호\s*이동"),
    "complaint_words": _any(r"말이\s*돼", r"어이없", r"장난(해|하|치)", r"(세|네|몇)\s*번째", r"몇\s*번을",
                            r"민원", r"신고", r"소비자원", r"방통위", r"보상"),
    "hurried": _any(r"빨리", r"급해", r"급한", r"바빠", r"바쁜", r"시간\s*없", r"얼른", r"서둘러", r"간단히",
                    r"짧게", r"본론"),
    "doubtful": _any(r"확실(해|한|하)", r"정말(요|이에요)?\?", r"진짜(요)?\?", r"맞(아요|죠|나요)\?",
                     r"믿(어도|을\s*수)", r"딴말", r"다르(던데|잖아)", r"(전에|저번에|매장에서).{0,12}(다르|달라)",
                     r"보장", r"거짓말"),
    "meticulous": _any(r"정확(히|하게)", r"자세(히|하게)", r"얼마(예요|인지|에요|죠)", r"몇\s*(원|퍼센트|일)",
                       r"(항목|내역)별", r"하나하나", r"비교", r"조건이", r"문자로\s*(보내|받)"),
}


def matches(table: dict[str, re.Pattern[str]], key: str, text: str) -> bool:
    return bool(table[key].search(text))
