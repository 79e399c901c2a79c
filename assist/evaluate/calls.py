"""``assist eval calls``: the whole engine scored on annotated call transcripts.

Each call is a transcript (.jsonl: speaker, text, start_s, end_s) with a ``.expected.json``
beside it (intents, per_turn_intents, stages, checklist, alerts, customer_type), the format of
the shipped demo calls, so evaluators can score the engine on their own annotated calls.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assist.config import AssistError
from assist.guide.events import Suggestions
from assist.session.deps import SessionDeps
from assist.session.events import CallSummary
from assist.session.manager import SessionManager
from assist.session.replay import read_transcript

__all__ = ["CallResult", "CallsReport", "expected_for", "replay_call", "score_calls"]

# Labels the engine may give a turn annotated "none" without being wrong.
_NONE_LIKE = frozenset({"none", "unsure"})


@dataclass
class CallResult:
    """One call replayed: what the engine emitted and how it compares to the annotation."""

    name: str
    events: list
    summary: CallSummary
    expected: dict
    turn_intents: list[str] = field(default_factory=list)

    @property
    def replacements(self) -> int:
        """Top-card replacements after the first card (what an agent perceives as flicker)."""
        cards = [e for e in self.events if isinstance(e, Suggestions) and e.replaced]
        return max(0, len(cards) - 1)

    @property
    def turns_right(self) -> int:
        return sum(_same_intent(got, want) for got, want
                   in zip(self.turn_intents, self.expected.get("per_turn_intents", [])))

    @property
    def turns(self) -> int:
        return min(len(self.turn_intents), len(self.expected.get("per_turn_intents", [])))

    @property
    def main_intent_found(self) -> bool:
        wanted = self.expected.get("intents", [])
        return bool(wanted) and wanted[0] in self.summary.intents

    def checklist_agreement(self) -> tuple[int, int]:
        got = dict(self.summary.checklist)
        want = self.expected.get("checklist", {})
        return sum(got.get(k) == v for k, v in want.items()), len(want)

    def stages_reached(self) -> tuple[int, int]:
        want = [s for s in self.expected.get("stages", []) if s != "objection"]
        return sum(s in self.summary.stages for s in want), len(want)


def _same_intent(got: str, want: str) -> bool:
    return got == want or (want == "none" and got in _NONE_LIKE)


@dataclass
class CallsReport:
    calls: list[CallResult]

    def to_dict(self) -> dict:
        turns = sum(c.turns for c in self.calls)
        checks = [c.checklist_agreement() for c in self.calls]
        stages = [c.stages_reached() for c in self.calls]
        return {
            "calls": len(self.calls),
            "turns": turns,
            "turn_intent_accuracy": round(sum(c.turns_right for c in self.calls) / max(1, turns), 4),
            "main_intent_found": sum(c.main_intent_found for c in self.calls),
            "stages_reached": round(sum(a for a, _ in stages) / max(1, sum(b for _, b in stages)), 4),
            "checklist_agreement": round(sum(a for a, _ in checks) / max(1, sum(b for _, b in checks)), 4),
            "replacements_mean": round(sum(c.replacements for c in self.calls) / max(1, len(self.calls)), 2),
            "replacements_max": max((c.replacements for c in self.calls), default=0),
            "per_call": {c.name: {"turns_right": c.turns_right, "turns": c.turns,
                                  "main_intent_found": c.main_intent_found,
                                  "replacements": c.replacements} for c in self.calls},
        }

    def markdown(self) -> str:
        d = self.to_dict()
        return ("| calls | customer turns | per-turn intent accuracy | main intent found | "
                "expected stages reached | checklist agreement | top-card replacements per call "
                "(mean / max) |\n|---|---|---|---|---|---|---|\n"
                f"| {d['calls']} | {d['turns']} | {d['turn_intent_accuracy']:.3f} | "
                f"{d['main_intent_found']} / {d['calls']} | {d['stages_reached']:.3f} | "
                f"{d['checklist_agreement']:.3f} | {d['replacements_mean']} / {d['replacements_max']} |")


def expected_for(path: Path) -> dict:
    """The annotation beside a transcript; a missing or broken one is a clear error."""
    file = path.with_suffix(".expected.json")
    try:
        return json.loads(file.read_text("utf-8"))
    except FileNotFoundError:
        raise AssistError(f"{path.name}: no annotation {file.name} beside it.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AssistError(f"{file}: not valid JSON ({exc}).") from None


def replay_call(manager: SessionManager, path: Path, call_id: str | None = None,
                save: bool = True) -> CallResult:
    """All turns of one transcript through a session, as fast as possible."""
    call_id = call_id or path.stem
    manager.start(call_id)
    events = [e for turn in read_transcript(path, call_id) for e in manager.handle(turn)]
    summary = manager.end(call_id, save=save)
    # An unsure turn is read in context: it belongs to the call's current topic, if any.
    intents = [e.intent if e.intent != "unsure" else (e.topic or "unsure")
               for e in events if type(e).__name__ == "InsightEvent"]
    return CallResult(path.stem, events, summary, expected_for(path), intents)


def score_calls(deps: SessionDeps, paths: Iterable[Path], call_log=None) -> CallsReport:
    manager = SessionManager(deps, call_log)
    return CallsReport([replay_call(manager, Path(p), save=call_log is not None) for p in paths])
