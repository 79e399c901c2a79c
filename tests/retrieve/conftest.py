"""Retrieval fixtures: the real encoder and the shipped KB, indexed once per session.

Each test gets its own copy of the indexed KB (store with cached embeddings + index files), so
tests can edit, corrupt and rebuild without re-encoding 138 articles each time.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assist.config import Settings
from assist.retrieve import Searcher

REPO = Path(__file__).resolve().parents[2]


def settings_at(root: Path, **retrieve) -> Settings:
    settings = Settings(root=root, model_dir=REPO / "models", kb_dir=REPO / "kb")
    if retrieve:
        settings = settings.model_copy(update={"retrieve": settings.retrieve.model_copy(update=retrieve)})
    return settings


@pytest.fixture(name="settings_at", scope="session")
def settings_at_fixture():
    """``settings_at(root, **retrieve_option_changes)`` on the repo's models and kb/."""
    return settings_at


@pytest.fixture(scope="session")
def encoder():
    from assist.nlu.encoder import load_encoder

    return load_encoder(REPO / "models" / "e5-small-ko")


@pytest.fixture(scope="session")
def kb_template(tmp_path_factory, encoder) -> Path:
    root = tmp_path_factory.mktemp("kb_template")
    searcher = Searcher.open(settings_at(root), encoder=encoder)
    searcher.store.close()
    return root


@pytest.fixture
def kb_settings(kb_template: Path, tmp_path: Path) -> Settings:
    shutil.copytree(kb_template / "var", tmp_path / "var")
    return settings_at(tmp_path)


@pytest.fixture
def searcher(kb_settings: Settings, encoder) -> Searcher:
    opened = Searcher.open(kb_settings, encoder=encoder)
    yield opened
    opened.store.close()
