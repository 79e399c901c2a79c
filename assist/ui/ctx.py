"""What every tab's handlers share: the loaded deps, logins, live calls, per-session state."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from assist.config import AssistError, Settings
from assist.guide.events import Answer
from assist.ui.auth import Auth, AuthError, Denied, Login
from assist.ui.calls import CallHub
from assist.ui.deps import AppDeps
from assist.ui.render import esc, message_html

__all__ = ["UiState", "Ctx", "refuse", "fail"]

log = logging.getLogger(__name__)


@dataclass
class UiState:
    """One browser session (gr.State, kept on the server): its login and what it has drawn."""

    token: str = ""
    call_id: str = ""
    seen: dict[str, int] = field(default_factory=dict)
    cards: tuple[Answer, ...] = ()
    kb_id: str = ""
    kb_version: int = 0
    eval_result: Any = None


@dataclass
class Ctx:
    settings: Settings
    deps: AppDeps
    auth: Auth
    hub: CallHub
    state: gr.State

    def require(self, state: UiState | None, permission: str) -> Login:
        """The session's login if it may use ``permission``; otherwise the request is refused."""
        try:
            return self.auth.require(state.token if state else None, permission)
        except AuthError as exc:
            refuse(exc)


def refuse(exc: AuthError) -> None:
    title = "권한 없음" if isinstance(exc, Denied) else "로그인 필요"
    log.warning("refused: %s", exc)
    raise gr.Error(esc(str(exc)), title=title, print_exception=False)


def fail(exc: Exception, lead: str = "") -> str:
    """An inline Korean error for a handler that caught ``exc`` (details escaped)."""
    if isinstance(exc, AssistError):
        text = f"{lead} {exc}".strip() if lead else str(exc)
    else:
        log.exception("ui handler failed")
        text = f"{lead or '처리하지 못했습니다.'} 잠시 후 다시 시도해 주세요. ({type(exc).__name__})"
    return message_html(text, "error")
