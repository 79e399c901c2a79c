"""``assist kb`` from a shell: errors are one clear message and exit code 2, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from assist.kb import render_markdown


REPO_KB = Path(__file__).resolve().parents[2] / "kb"


def _assist(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSIST_ROOT": str(tmp_path), "ASSIST_MODEL_DIR": str(REPO_KB.parent / "models"),
           "ASSIST_KB_DIR": str(REPO_KB)}
    env.pop("ASSIST_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "assist.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_list_seeds_and_bad_input_is_one_clear_error(make_article, tmp_path):
    listed = _assist(tmp_path, "kb", "list", "--intent", "usim")
    assert listed.returncode == 0 and "usim-01" in listed.stdout and "billing" not in listed.stdout
    bad = tmp_path / "bad.md"
    bad.write_text(render_markdown(make_article("usim-01", title="가" * 130, intents=("usim", "sim"))), "utf-8")
    added = _assist(tmp_path, "kb", "add", str(bad))
    assert added.returncode == 2 and "Traceback" not in added.stderr
    assert "title has 130 characters" in added.stderr and "unknown intent code(s) 'sim'" in added.stderr
    edited = _assist(tmp_path, "kb", "edit", "usim-01", "--title", "새 제목", "--base-version", "7")
    assert edited.returncode == 2 and "after you loaded version 7" in edited.stderr
    missing = _assist(tmp_path, "kb", "show", "nope")
    assert missing.returncode == 2 and "No article with id 'nope'" in missing.stderr
    assert (tmp_path / "var" / "kb.sqlite3").is_file()


def test_edit_refuses_a_too_long_question(tmp_path):
    edited = _assist(tmp_path, "kb", "edit", "usim-01", "--question", "유심을 새로 받고 싶어요",
                     "--question", "가" * 151)
    assert edited.returncode == 2 and "Traceback" not in edited.stderr
    assert "has 151 characters, the limit is 150" in edited.stderr
    shown = _assist(tmp_path, "kb", "show", "usim-01")
    assert shown.returncode == 0 and "questions:\n  - " in shown.stdout and "가" * 151 not in shown.stdout
