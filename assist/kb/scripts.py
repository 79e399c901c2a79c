"""Call scripts (kb/scripts/<stage>.yaml): what an agent can say at each call stage.

Loaded once into frozen dataclasses and checked like articles: every problem with its file and
line. ``ScriptBook.lines(stage)`` is what guide's next-line chooser needs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from assist.config import AssistError

__all__ = ["CallScript", "ScriptBook", "ScriptError", "load_scripts", "PLACEHOLDERS"]

PLACEHOLDERS = frozenset({"customer_name", "team", "agent_name", "topic", "date"})
KEYS = ("stage", "name", "purpose", "lines", "tips")
MAX_LINE_CHARS = 400
_STAGE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class ScriptError(AssistError):
    """Scripts failed to load; ``problems`` lists 'file:line: why' for each."""

    def __init__(self, message: str, problems: tuple[str, ...]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CallScript:
    stage: str
    name: str
    purpose: str
    lines: tuple[str, ...]
    tips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScriptBook:
    """All scripts by stage; unknown stages have no lines (guide falls back)."""

    scripts: tuple[CallScript, ...]

    def get(self, stage: str) -> CallScript | None:
        return next((script for script in self.scripts if script.stage == stage), None)

    def lines(self, stage: str) -> tuple[str, ...]:
        script = self.get(stage)
        return script.lines if script else ()

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(script.stage for script in self.scripts)


def load_scripts(folder: Path) -> ScriptBook:
    """Every kb/scripts/*.yaml; raises ScriptError listing all problems of all files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScriptError(f"Script folder {folder} does not exist.", (f"{folder}: missing",))
    scripts: list[CallScript] = []
    problems: list[str] = []
    for file in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        script, found = _load_one(file)
        problems += found
        if script is not None:
            scripts.append(script)
    if problems:
        raise ScriptError(f"{len(problems)} problem(s) in call scripts under {folder}:\n  "
                          + "\n  ".join(problems), tuple(problems))
    return ScriptBook(tuple(scripts))


def _load_one(file: Path) -> tuple[CallScript | None, list[str]]:
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = file.read_bytes()[: exc.start].count(b"\n") + 1
        return None, [f"{file}:{line}: invalid UTF-8; save the file as UTF-8"]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [f"{file}:{mark.line + 1 if mark else 1}: not valid YAML: "
                      f"{getattr(exc, 'problem', None) or exc}"]
    if not isinstance(data, dict):
        return None, [f"{file}:1: a script must be a mapping with {', '.join(KEYS)}"]
    line_of = _node_lines(text)
    problems = [f"{file}:{line_of.get(str(key), (1,))[0]}: unknown key {key!r}; allowed: {', '.join(KEYS)}"
                for key in data if key not in KEYS]
    problems += _field_problems(data, file, line_of)
    if problems:
        return None, problems
    return CallScript(data["stage"], data["name"], data["purpose"], tuple(data["lines"]),
                      tuple(data.get("tips") or ())), []


def _node_lines(text: str) -> dict[str, tuple[int, ...]]:
    """Line of each top-level key, followed by the lines of its list items (1-based)."""
    root = yaml.compose(text)
    found: dict[str, tuple[int, ...]] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            items = value.value if isinstance(value, yaml.SequenceNode) else []
            found[str(key.value)] = (key.start_mark.line + 1,
                                     *(item.start_mark.line + 1 for item in items))
    return found


def _field_problems(data: dict, file: Path, line_of: dict[str, tuple[int, ...]]) -> list[str]:
    def at(key: str, index: int = 0) -> str:
        lines = line_of.get(key, (1,))
        return f"{file}:{lines[index] if index < len(lines) else lines[0]}"

    problems = []
    for key in ("stage", "name", "purpose"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.append(f"{at(key)}: {key} is missing or empty")
    stage = data.get("stage")
    if isinstance(stage, str) and not _STAGE.fullmatch(stage):
        problems.append(f"{at('stage')}: stage {stage!r} must be lowercase letters, digits and '_'")
    elif isinstance(stage, str) and stage != file.stem:
        problems.append(f"{at('stage')}: stage {stage!r} does not match the file name {file.name!r}")
    for key, required in (("lines", True), ("tips", False)):
        items = data.get(key)
        if items is None and not required:
            continue
        if not isinstance(items, list) or not items:
            problems.append(f"{at(key)}: {key} must be a non-empty list of texts")
            continue
        for index, item in enumerate(items, start=1):
            problems += _item_problems(item, f"{at(key, index)}: {key} item {index}")
    return problems


def _item_problems(item: object, where: str) -> list[str]:
    if not isinstance(item, str) or not item.strip():
        return [f"{where} is empty or not text"]
    problems = []
    if len(item) > MAX_LINE_CHARS:
        problems.append(f"{where} has {len(item)} characters, the limit is {MAX_LINE_CHARS}")
    unknown = sorted(set(_PLACEHOLDER.findall(item)) - PLACEHOLDERS)
    if unknown:
        problems.append(f"{where} uses unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                        f"allowed: {', '.join(sorted(PLACEHOLDERS))}")
    return problems
