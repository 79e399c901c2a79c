"""Per-tenant token auth: config holds SHA-256 digests only; digests are compared in constant time.

A token comes in ``Authorization: Bearer TOKEN`` or, for clients that cannot set headers
(telephony media streams, browser EventSource), ``?token=TOKEN``. Every stored digest is
compared (no early exit), so timing tells nothing about which tenant or prefix matched.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers, QueryParams

from assist.api.limits import BAD_TOKEN, ApiRefusal
from assist.config import ApiOptions

__all__ = ["Principal", "TokenBook", "new_token", "token_digest", "token_from", "require_principal"]

_bearer = HTTPBearer(auto_error=False, description="Tenant API token (or ?token=).")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant, which of its tokens (digest prefix, safe to log), its limit."""

    tenant: str
    token_id: str
    max_calls: int


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and the digest to put in config."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


class TokenBook:
    def __init__(self, opts: ApiOptions) -> None:
        self._entries = [
            (bytes.fromhex(digest), Principal(tenant, digest[:12], tenant_opts.max_calls))
            for tenant, tenant_opts in sorted(opts.tenants.items())
            for digest in tenant_opts.token_sha256
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, token: str | None) -> Principal:
        """The token's principal; raises ApiRefusal(4001) for a missing or unknown token."""
        if not token:
            raise ApiRefusal(BAD_TOKEN, "missing token (Authorization: Bearer or ?token=)")
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for stored, principal in self._entries:
            if hmac.compare_digest(digest, stored):
                found = principal
        if found is None:
            raise ApiRefusal(BAD_TOKEN, "unknown token")
        return found


def token_from(headers: Headers, query: QueryParams) -> str | None:
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return query.get("token") or None


def require_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    """FastAPI dependency for every REST and SSE endpoint."""
    token = credentials.credentials if credentials else request.query_params.get("token")
    try:
        return request.app.state.api.tokens.check(token)
    except ApiRefusal as exc:
        raise HTTPException(401, exc.reason, headers={"WWW-Authenticate": "Bearer"}) from exc
