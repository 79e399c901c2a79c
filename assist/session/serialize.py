"""Events as JSON for the streaming API, the UI and ``--json`` output (schema version 1)."""
from __future__ import annotations

import dataclasses
import json

__all__ = ["SCHEMA_VERSION", "event_dict", "event_json"]

SCHEMA_VERSION = 1


def event_dict(event: object) -> dict:
    """A plain dict with ``type`` (the event class) and ``v`` (schema version) added."""
    data = dataclasses.asdict(event)
    data["type"] = type(event).__name__
    data["v"] = SCHEMA_VERSION
    return data


def event_json(event: object) -> str:
    return json.dumps(event_dict(event), ensure_ascii=False, default=str)
