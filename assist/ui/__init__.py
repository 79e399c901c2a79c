"""The web app (Gradio): agent side panel, KB editor, evaluator; login with roles."""
from assist.ui.app import Served, build_app, launch, serve
from assist.ui.auth import ROLES, ensure_users, hash_password, read_users, users_path, write_users

__all__ = ["build_app", "serve", "launch", "Served", "ROLES", "ensure_users", "hash_password",
           "read_users", "write_users", "users_path"]
