"""Server API next to the UI: telephony/PCM audio in, per-call event streams out, REST, OpenAPI."""
from assist.api.app import create_app, serve

__all__ = ["create_app", "serve"]
