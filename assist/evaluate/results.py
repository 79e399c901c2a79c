"""Append measured figures to docs/RESULTS.md with date, machine and the command that made them."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

__all__ = ["machine_line", "append_results"]


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def append_results(path: Path, command: str, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    section = f"\n### `{command}`\n\n- date: {stamp}\n- machine: {machine_line()}\n\n{body}\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(section)
    return path
