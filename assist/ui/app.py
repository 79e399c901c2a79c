"""The web app: login, then the tabs a role may use; ``serve`` starts it with models warm.

``build_app`` wires everything; ``serve`` loads models (in parallel threads, ``DepsLoader``),
makes demo users on a first start, launches on ``server.host:server.port`` and prints how long
start-up took (``assist app --check-start`` measures it and exits).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from assist.config import Settings  # noqa: E402
from assist.ui.agent_tab import build_agent_tab  # noqa: E402
from assist.ui.auth import ROLE_NAMES, Auth, AuthError, ensure_users, users_path  # noqa: E402
from assist.ui.calls import CallHub  # noqa: E402
from assist.ui.ctx import Ctx, UiState  # noqa: E402
from assist.ui.deps import AppDeps, DepsLoader, load_app_deps  # noqa: E402
from assist.ui.eval_tab import build_eval_tab  # noqa: E402
from assist.ui.kb_tab import build_kb_tab  # noqa: E402
from assist.ui.render import esc, message_html  # noqa: E402
from assist.ui.sources import demo_audio, demo_calls  # noqa: E402
from assist.ui.style import CSS, HEAD, theme  # noqa: E402

__all__ = ["build_app", "serve", "Served"]

log = logging.getLogger(__name__)


@dataclass
class Served:
    app: gr.Blocks
    url: str
    startup_s: float
    deps: AppDeps

    def close(self) -> None:
        self.app.hub.close()
        self.app.close()
        self.deps.close()


def build_app(settings: Settings, deps: AppDeps | None = None) -> gr.Blocks:
    """The Blocks app; ``deps`` are loaded here when not given."""
    deps = deps or load_app_deps(settings)
    auth = Auth(users_path(settings), settings.ui.session_hours, settings.ui.max_login_failures)
    hub = CallHub(deps, settings.ui)
    with gr.Blocks(title="상담 어시스트", analytics_enabled=False) as app:
        state = gr.State(UiState())
        stored = gr.BrowserState("", storage_key="assist-login")
        ctx = Ctx(settings, deps, auth, hub, state)
        login = _login_box()
        with gr.Column(visible=False, elem_id="main") as main:
            with gr.Row(elem_id="app-header"):
                gr.HTML('<span class="ca-brand">상담 어시스트</span>', min_width=0)
                user_label = gr.HTML(elem_id="user-label", min_width=0)
                logout = gr.Button("로그아웃", size="sm", elem_id="logout", min_width=0, scale=0)
            timer = gr.Timer(settings.ui.poll_ms / 1000, active=False)
            with gr.Tabs(elem_id="tabs"):
                agent = build_agent_tab(ctx, timer)
                kb_tab = build_kb_tab(ctx)
                eval_tab = build_eval_tab(ctx)
        agent.timer.tick(agent.tick, [state], agent.tick_outputs, show_progress="hidden",
                         concurrency_limit=None, trigger_mode="once", api_visibility="private")
        shown = [state, stored, login["box"], main, user_label, agent.tab, kb_tab, eval_tab,
                 login["msg"], login["password"], agent.timer]
        _wire_login(app, ctx, login, logout, stored, shown)
    app.hub = hub
    return app


def _login_box() -> dict:
    c: dict = {}
    with gr.Column(elem_id="login-box") as c["box"]:
        gr.HTML('<div class="ca-brand" style="font-size:20px;font-weight:700;color:#312e81">'
                '상담 어시스트</div><div class="ca-hint" style="padding-left:0">'
                '실시간 상담 지원 · 지식 관리 · 모델 평가. 로그인해 주세요.</div>')
        c["name"] = gr.Textbox(label="아이디", elem_id="login-name", max_lines=1)
        c["password"] = gr.Textbox(label="비밀번호", type="password", elem_id="login-password",
                                   max_lines=1)
        c["go"] = gr.Button("로그인", variant="primary", elem_id="login-go")
        c["msg"] = gr.HTML(elem_id="login-msg")
    return c


def _wire_login(app: gr.Blocks, ctx: Ctx, login: dict, logout: gr.Button,
                stored: gr.BrowserState, shown: list) -> None:
    """Log in, log out, and on page load (a reload or reconnect) come back to the same call."""
    def enter(name: str, password: str, state: UiState) -> list:
        try:
            session = ctx.auth.login(name, password)
        except AuthError as exc:
            return [state, gr.skip(), *[gr.skip()] * 6, message_html(str(exc), "error"), "",
                    gr.skip()]
        return _signed_in(ctx, UiState(token=session.token), session)

    def restore(token: str, state: UiState) -> list:
        session = ctx.auth.lookup(token)
        if session is None:
            return [state, "", *[gr.skip()] * 9]
        fresh = UiState(token=session.token)
        call = ctx.hub.latest(session.token)
        fresh.call_id = call.call_id if call is not None else ""
        return _signed_in(ctx, fresh, session)

    def leave(state: UiState) -> list:
        if state is not None and state.token:
            call = ctx.hub.latest(state.token)
            if call is not None:
                call.orphaned = True
                ctx.hub.end(call)
            ctx.auth.logout(state.token)
        hidden = [gr.Tab(visible=False)] * 3
        return [UiState(), "", gr.Column(visible=True), gr.Column(visible=False), "", *hidden,
                message_html("로그아웃했습니다.", "info"), "", gr.Timer(active=False)]

    login["go"].click(enter, [login["name"], login["password"], ctx.state], shown, api_name="login")
    login["password"].submit(enter, [login["name"], login["password"], ctx.state], shown,
                             api_visibility="private")
    logout.click(leave, [ctx.state], shown, api_name="logout")
    app.load(restore, [stored, ctx.state], shown, api_visibility="private")


def _signed_in(ctx: Ctx, state: UiState, session) -> list:
    label = f"{esc(session.name)} · {esc(ROLE_NAMES.get(session.role, session.role))}"
    return [state, session.token, gr.Column(visible=False), gr.Column(visible=True), label,
            gr.Tab(visible=session.can("call")), gr.Tab(visible=session.can("kb")),
            gr.Tab(visible=session.can("eval")), "", "", gr.Timer(active=True)]


def launch(app: gr.Blocks, settings: Settings, port: int | None = None) -> str:
    """Start serving without blocking; returns the local URL."""
    max_mb = max(settings.ui.max_upload_mb * 4, 200)  # ours is checked, with a Korean message
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=settings.server.host, server_port=port or settings.server.port,
               prevent_thread_lock=True, quiet=True, show_error=False, ssr_mode=False,
               max_file_size=f"{max_mb:.0f}mb", theme=theme(), css=CSS, head=HEAD,
               footer_links=[], favicon_path=None)
    return app.local_url or f"http://{settings.server.host}:{port or settings.server.port}/"


def serve(settings: Settings, *, block: bool = True, port: int | None = None,
          deps: AppDeps | None = None, announce=print, speak_demos: bool = True,
          loader: DepsLoader | None = None, started_at: float | None = None) -> Served:
    """Load models (or take ``loader``, already loading), build and launch the app; with
    ``block`` serve until interrupted. ``started_at`` (epoch seconds, default now) is where
    the reported start time counts from."""
    started_at = time.time() if started_at is None else started_at
    for name, role, password in ensure_users(users_path(settings)):
        announce(f"데모 계정을 만들었습니다: {name} ({ROLE_NAMES[role]}) / 비밀번호 {password}")
    deps = deps or (loader or DepsLoader(settings)).result()
    app = build_app(settings, deps)
    url = launch(app, settings, port)
    served = Served(app, url, time.time() - started_at, deps)
    announce(f"상담 어시스트가 {url} 에서 준비되었습니다 (시작 {served.startup_s:.1f}초).")
    if speak_demos:
        threading.Thread(target=_prepare_demo_audio, args=(settings,), name="demo-audio",
                         daemon=True).start()
    if block:
        try:
            app.block_thread()
        finally:
            served.close()
    return served


def _prepare_demo_audio(settings: Settings) -> None:
    """Speak ahead (espeak-ng) the demo calls that have no audio yet (``assist models build``
    makes it), so the audio demo starts at once; at low priority, not to slow a first call."""
    from assist.ui.sources import demo_audio_ready

    todo = [d for d in demo_calls(settings) if not demo_audio_ready(settings, d.path)]
    if not todo:
        return
    try:  # this thread (and the espeak-ng it starts) yields the CPU to calls
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
    except (AttributeError, OSError):
        pass
    for demo in todo:
        try:
            demo_audio(settings, demo.path)
        except Exception as exc:  # espeak missing: the transcript demo still works
            log.info("demo audio for %s not prepared: %s", demo.name, exc)
            return
