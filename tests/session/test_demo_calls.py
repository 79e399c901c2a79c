"""End to end on every shipped demo call: real NLU, real KB search, real scripts, real call log."""
from __future__ import annotations

from pathlib import Path

import pytest

from assist.guide.events import Alert, Suggestions
from assist.evaluate.calls import score_calls
from assist.session.log import CallLog
from assist.session.replay import read_transcript

REPO = Path(__file__).resolve().parents[2]
CALLS = sorted((REPO / "demo" / "calls").glob("*.jsonl"))


@pytest.fixture(scope="module")
def report(deps, tmp_path_factory):
    log = CallLog(tmp_path_factory.mktemp("log") / "calls.sqlite3")
    return score_calls(deps, CALLS, log), log


@pytest.fixture(scope="module")
def results(report):
    calls, log = report
    return {c.name: (c.events, c.summary, c.expected) for c in calls.calls}, log


def test_there_are_at_least_12_demo_calls():
    assert len(CALLS) >= 12


@pytest.mark.parametrize("path", CALLS, ids=lambda p: p.stem)
def test_stages_and_checklist(results, path):
    events, summary, expected = results[0][path.stem]
    reached = list(summary.stages)
    for stage in expected["stages"]:
        if stage != "objection":  # depends on the sentiment model, checked separately
            assert stage in reached, (stage, reached)
    checklist = dict(summary.checklist)
    for item, value in expected["checklist"].items():
        assert checklist[item] == value, (item, checklist[item], value)


def test_main_intent_found_in_most_calls(results):
    """The call's main intent is among the summary's intents in at least 10 of the 14 calls.

    Measured with the default heads: 10 of 14 (misses: complaint worded as an outage, refund
    and micropayment calls that open with a billing question, out-of-scope read as none).
    """
    misses = [name for name, (_, summary, expected) in results[0].items()
              if expected["intents"][0] not in summary.intents]
    assert len(misses) <= 4, misses


def test_per_turn_intent_accuracy(report):
    figures = report[0].to_dict()
    # Per-turn labels include short answers (names, numbers) that must come out "none" and
    # follow-ups that belong to the call's topic; measured 0.74.
    # `assist eval calls` prints the figure (docs/RESULTS.md). This guards against regressions.
    assert figures["turns"] > 100 and figures["turn_intent_accuracy"] >= 0.7, figures


@pytest.mark.parametrize("path", CALLS, ids=lambda p: p.stem)
def test_alerts_and_customer_type(results, path):
    events, summary, expected = results[0][path.stem]
    kinds = set(summary.alerts)
    for must in ("supervisor", "complaint", "cancel_threat", "hold"):
        if must in expected["alerts"]:
            assert must in kinds, (must, kinds)
    assert ("supervisor" in kinds) == ("supervisor" in expected["alerts"])
    if expected["customer_type"]:
        assert summary.customer_type == expected["customer_type"]


def test_complaint_protocol_suggests_apology_first(results, deps):
    events, _, _ = results[0]["04_complaint_supervisor"]
    apology = set(deps.scripts.lines("complaint_apology"))
    alerts = [e for e in events if isinstance(e, Alert) and e.kind == "complaint"]
    assert alerts
    lines = [e.next_line for e in events if isinstance(e, Suggestions)]
    first_after = lines[0] if lines else ""
    assert any(first_after.startswith(line.split("{")[0][:6]) for line in apology) or "죄송" in first_after


def test_suggestions_do_not_flicker(report):
    for call in report[0].calls:
        # A replacement is allowed per new question, not on every turn.
        assert call.replacements <= len(call.turn_intents) // 2, (call.name, call.replacements)
        for card in (e for e in call.events if isinstance(e, Suggestions)):
            assert 1 <= len(card.answers) <= 3 and len({a.article_id for a in card.answers}) == len(card.answers)


def test_summary_fields_and_redacted_log(results):
    outcome, log = results
    events, summary, expected = outcome["07_payment_method_pii"]
    assert summary.disposition.startswith("payment_method")
    assert summary.summary and summary.follow_ups is not None
    stored = log.call("07_payment_method_pii")
    text = " ".join(row["text"] for row in stored["transcript"])
    raw = " ".join(t.text for t in read_transcript(REPO / "demo/calls/07_payment_method_pii.jsonl"))
    assert "[" in text  # masks present
    for secret in ("공일공 삼칠이일 팔사오구", "오삼일이 팔팔공사 칠육일구 삼공이오", "천구백팔십구년 칠월 십사일"):
        assert secret in raw and secret not in text
    escalated = outcome["04_complaint_supervisor"][1]
    assert escalated.disposition.endswith("escalated")


def test_missing_or_broken_annotation_is_one_clear_error(tmp_path):
    from assist.config import AssistError
    from assist.evaluate.calls import expected_for

    call = tmp_path / "mine.jsonl"
    call.write_text('{"speaker": "customer", "text": "요금 문의요", "start_s": 0, "end_s": 1}\n', "utf-8")
    with pytest.raises(AssistError, match="mine.expected.json"):
        expected_for(call)
    call.with_suffix(".expected.json").write_text("{not json", "utf-8")
    with pytest.raises(AssistError, match="not valid JSON"):
        expected_for(call)
