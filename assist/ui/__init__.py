"""The web app (Gradio): agent side panel, KB editor, evaluator; login with roles.

Names are imported on first use, so ``assist.ui.deps`` and ``assist.ui.warm`` can be used
(model loading started, ``assist models build`` precomputing) without importing Gradio.
"""
from __future__ import annotations

import importlib

_NAMES = {"build_app": "app", "serve": "app", "launch": "app", "Served": "app",
          "ROLES": "auth", "ensure_users": "auth", "hash_password": "auth", "read_users": "auth",
          "write_users": "auth", "users_path": "auth"}

__all__ = list(_NAMES)


def __getattr__(name: str):
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'assist.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(f"assist.ui.{module}"), name)
