"""Who may do what: users with salted scrypt password hashes, logins, roles checked per request.

The users file (JSON, ``ui.users_file``) holds ``{"users": [{"name", "role", "password"}]}``
where ``password`` is ``scrypt$n$r$p$salt$hash`` (base64); plain passwords are never stored.
On the first start without a file, one user per role is made with a random password that is
printed once. Every handler calls ``Auth.require`` with the session's token and the
permission it needs, so a hidden tab is not the only guard.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from assist.config import AssistError, Settings

__all__ = ["ROLES", "ROLE_NAMES", "User", "Login", "Auth", "AuthError", "Denied",
           "hash_password", "verify_password", "read_users", "write_users", "ensure_users",
           "users_path"]

# Permission sets: "call" (agent panel), "kb" (KB editor), "eval" (evaluator), "admin".
ROLES: dict[str, frozenset[str]] = {
    "agent": frozenset({"call"}),
    "editor": frozenset({"call", "kb"}),
    "evaluator": frozenset({"call", "eval"}),
    "admin": frozenset({"call", "kb", "eval", "admin"}),
}
ROLE_NAMES = {"agent": "상담사", "editor": "지식 편집자", "evaluator": "평가 담당자", "admin": "관리자"}
PERMISSION_NAMES = {"call": "상담 지원", "kb": "지식 관리", "eval": "모델 평가", "admin": "관리"}
_SCRYPT = (2**14, 8, 1)
_LOCK_S = 60.0


class AuthError(AssistError):
    """Login failed or the session is gone; the message is Korean and shown as is."""


class Denied(AuthError):
    """The logged-in user's role lacks the permission a handler needs."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    password: str  # scrypt$n$r$p$salt$hash


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    name: str
    role: str
    expires_at: float

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())


def hash_password(password: str, salt: bytes | None = None) -> str:
    n, r, p = _SCRYPT
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def users_path(settings: Settings) -> Path:
    path = settings.ui.users_file
    return path if path.is_absolute() else settings.data_path / path


def read_users(path: Path) -> dict[str, User]:
    try:
        data = json.loads(path.read_text("utf-8"))
        users = [User(u["name"], u["role"], u["password"]) for u in data["users"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AssistError(f"{path}: not a users file ({exc}); fix it or delete it to make "
                          "new demo users.") from exc
    bad = [u.name for u in users if u.role not in ROLES or not u.password.startswith("scrypt$")]
    if bad:
        raise AssistError(f"{path}: users {', '.join(bad)} need a role of {', '.join(ROLES)} "
                          "and a scrypt password hash (see `assist users set`).")
    return {u.name: u for u in users}


def write_users(path: Path, users: list[User]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"users": [{"name": u.name, "role": u.role, "password": u.password} for u in users]}
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    temp.chmod(0o600)
    os.replace(temp, path)


def ensure_users(path: Path) -> list[tuple[str, str, str]]:
    """Make one demo user per role when the file is missing; returns (name, role, password)."""
    if path.exists():
        return []
    made = [(role, role, secrets.token_urlsafe(9)) for role in ROLES]
    write_users(path, [User(name, role, hash_password(pw)) for name, role, pw in made])
    return made


class Auth:
    """Logins in memory (token -> Login); the users file is re-read when it changes."""

    def __init__(self, path: Path, session_hours: float = 12.0, max_failures: int = 5) -> None:
        self.path = path
        self.session_s = session_hours * 3600
        self.max_failures = max_failures
        self._users: dict[str, User] = {}
        self._mtime = -1.0
        self._logins: dict[str, Login] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _current_users(self) -> dict[str, User]:
        mtime = self.path.stat().st_mtime if self.path.exists() else -1.0
        if mtime != self._mtime:
            self._users = read_users(self.path) if mtime >= 0 else {}
            self._mtime = mtime
        return self._users

    def login(self, name: str, password: str) -> Login:
        name = (name or "").strip()
        with self._lock:
            count, until = self._failures.get(name, (0, 0.0))
            if until > time.time():
                raise AuthError("로그인 실패가 반복되어 잠시 로그인할 수 없습니다. "
                                "1분 뒤에 다시 시도해 주세요.")
            user = self._current_users().get(name)
        if user is None or not verify_password(password or "", user.password):
            self._failed(name, count)
            raise AuthError("아이디 또는 비밀번호가 올바르지 않습니다.")
        login = Login(secrets.token_urlsafe(24), user.name, user.role,
                      time.time() + self.session_s)
        with self._lock:
            self._failures.pop(name, None)
            self._logins[login.token] = login
        return login

    def _failed(self, name: str, count: int) -> None:
        with self._lock:
            count += 1
            until = time.time() + _LOCK_S if count >= self.max_failures else 0.0
            self._failures[name] = (0 if until else count, until)

    def lookup(self, token: str | None) -> Login | None:
        if not token:
            return None
        with self._lock:
            login = self._logins.get(token)
            if login is not None and login.expires_at < time.time():
                self._logins.pop(token, None)
                return None
            return login

    def logout(self, token: str | None) -> None:
        with self._lock:
            self._logins.pop(token or "", None)

    def require(self, token: str | None, permission: str) -> Login:
        """The login behind ``token`` if it has ``permission``; raises a Korean AuthError."""
        login = self.lookup(token)
        if login is None:
            raise AuthError("로그인이 필요합니다. 다시 로그인해 주세요.")
        if not login.can(permission):
            raise Denied(f"{ROLE_NAMES.get(login.role, login.role)} 계정에는 "
                         f"‘{PERMISSION_NAMES.get(permission, permission)}’ 권한이 없습니다.")
        return login
