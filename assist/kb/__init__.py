"""The knowledge base: articles with full version history in SQLite, import/export, call scripts.

The store is the source of truth; kb/ in the repository is the seed a fresh install starts from.
"""
from assist.kb.article import Article, ArticleError, check, render_markdown, validate
from assist.kb.files import (ImportBatch, KbImportError, export_articles, import_path,
                             read_articles, read_one, seed_from_folder)
from assist.kb.scripts import CallScript, ScriptBook, ScriptError, load_scripts
from assist.kb.store import (ImportResult, KbConflict, KbDeleted, KbError, KbExists, KbNotFound,
                             KbStore, Snapshot, Version, open_store)
from assist.kb.taxonomy import INTENTS
from assist.kb.vectors import NearDuplicate, article_vectors, near_duplicates, question_vectors

__all__ = [
    "Article", "ArticleError", "check", "render_markdown", "validate",
    "ImportBatch", "KbImportError", "export_articles", "import_path", "read_articles", "read_one",
    "seed_from_folder", "CallScript", "ScriptBook", "ScriptError", "load_scripts",
    "ImportResult", "KbConflict", "KbDeleted", "KbError", "KbExists", "KbNotFound", "KbStore",
    "Snapshot", "Version", "open_store", "INTENTS", "NearDuplicate", "article_vectors",
    "near_duplicates", "question_vectors",
]
