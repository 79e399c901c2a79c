"""``assist kb ...`` (edit the knowledge base), ``assist eval retrieval``, ``assist bench retrieval``."""
from __future__ import annotations

import argparse
import getpass
import json
import os
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from assist.config import AssistError, Settings, get_settings

console = Console()
err = Console(stderr=True)
FORMATS = ("folder", "jsonl", "csv")


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    kb = sub.add_parser("kb", help="view and edit the knowledge base").add_subparsers(
        dest="action", required=True)
    _register_kb(kb)
    evaluate = groups["eval"].add_parser("retrieval", help="recall@1/3/5 and MRR per search method")
    evaluate.add_argument("--queries", type=Path, nargs="+",
                          help="TSV/CSV files with query,article_ids (default: data/retrieval/queries_*.tsv)")
    evaluate.add_argument("--split", choices=["dev", "test", "all"], default="all",
                          help="which shipped query files when --queries is not given: dev "
                               "(queries_a, the one settings are tuned on), test (queries_b and "
                               "queries_c) or all")
    evaluate.add_argument("--intent", action="store_true",
                          help="also score 'hybrid+intent': hybrid given the NLU model's "
                               "predicted intent, as in a live call")
    evaluate.add_argument("--kb", choices=["folder", "store"], default="folder",
                          help="score the kb/ folder (default) or the live KB store")
    evaluate.add_argument("--misses", action="store_true", help="list hybrid queries missed in the top 3")
    evaluate.add_argument("--json", action="store_true", help="last line: one JSON object")
    evaluate.set_defaults(func=run_eval)
    bench = groups["bench"].add_parser("retrieval", help="dense index latency, build time, HNSW recall")
    bench.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    bench.add_argument("--queries", type=int, default=300)
    bench.add_argument("--data", choices=["clustered", "uniform"], default="clustered")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=run_bench)


def _register_kb(kb: argparse._SubParsersAction) -> None:
    def command(name: str, helptext: str, func, *ids: str) -> argparse.ArgumentParser:
        parser = kb.add_parser(name, help=helptext)
        for arg in ids:
            parser.add_argument(arg)
        parser.set_defaults(func=func)
        return parser

    def writer(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--author", default=os.environ.get("ASSIST_AUTHOR") or _user())
        parser.add_argument("--note", default="", help="change note kept in the history")
        return parser

    writer(command("add", "add an article from a .md (kb/ format) or .json file", run_add, "file"))
    edit = writer(command("edit", "change an article (from a file and/or fields)", run_edit, "id"))
    edit.add_argument("--file", type=Path, help="new content (.md or .json)")
    edit.add_argument("--title")
    edit.add_argument("--answer")
    edit.add_argument("--intents", help="comma-separated intent codes")
    edit.add_argument("--tags", help="comma-separated tags")
    edit.add_argument("--question", action="append", dest="questions",
                      help="an example caller question; repeat for each (replaces them all)")
    edit.add_argument("--base-version", type=int, help="version you edited (default: current)")
    show = command("show", "print an article", run_show, "id")
    show.add_argument("--version", type=int)
    show.add_argument("--json", action="store_true")
    listing = command("list", "list articles", run_list)
    listing.add_argument("--deleted", action="store_true", help="include deleted articles")
    listing.add_argument("--intent")
    command("history", "versions of an article", run_history, "id")
    diff = command("diff", "unified diff between two versions", run_diff, "id")
    diff.add_argument("from_version", type=int)
    diff.add_argument("to_version", type=int, nargs="?")
    revert = writer(command("revert", "new version with an old version's content", run_revert, "id"))
    revert.add_argument("version", type=int)
    delete = writer(command("delete", "soft-delete an article (restorable)", run_delete, "id"))
    delete.add_argument("--base-version", type=int)
    writer(command("restore", "bring back a deleted article", run_restore, "id"))
    imp = writer(command("import", "import a kb/ folder, .jsonl or .csv (all or nothing)", run_import, "path"))
    imp.add_argument("--format", choices=FORMATS)
    imp.add_argument("--dry-run", action="store_true", help="only check")
    exp = command("export", "export to a kb/ folder, .jsonl or .csv", run_export, "path")
    exp.add_argument("--format", choices=FORMATS)
    command("reindex", "rebuild the search index from the KB", run_reindex)
    search = command("search", "search the KB like a live call does", run_search, "query")
    search.add_argument("--method", choices=["hybrid", "dense", "bm25"], default="hybrid")
    search.add_argument("--intent")
    search.add_argument("-k", type=int, default=3)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _store(settings: Settings):
    from assist.kb import open_store, seed_from_folder

    seed_from_folder(settings)
    return open_store(settings)


def _after_write(settings: Settings, article) -> None:
    """Bring the search index up to date and warn about near-duplicates."""
    from assist.kb import near_duplicates
    from assist.retrieve import Searcher

    try:
        searcher = Searcher.open(settings)
    except AssistError as exc:
        err.print(f"[yellow]saved; the search index will catch up on next start ({exc})[/]")
        return
    if article is not None and not article.deleted:
        for dup in near_duplicates(searcher.store, searcher.encoder, article,
                                   settings.kb.near_duplicate_cosine):
            err.print(f"[yellow]warning:[/] {escape(article.id)} is {escape(str(dup))}")


def _saved(before_version: int | None, article) -> None:
    if before_version == article.version:
        console.print(f"{escape(article.id)}: no change (version {article.version})")
    else:
        state = " (deleted)" if article.deleted else ""
        console.print(f"{escape(article.id)}: saved version {article.version}{state}")


def run_add(args: argparse.Namespace) -> int:
    from assist.kb import read_one

    settings = get_settings()
    article = read_one(Path(args.file))
    with _store(settings) as store:
        saved = store.add(article, author=args.author, note=args.note)
    _saved(None, saved)
    _after_write(settings, saved)
    return 0


def run_edit(args: argparse.Namespace) -> int:
    from assist.kb import read_one

    settings = get_settings()
    with _store(settings) as store:
        current = store.require(args.id)
        article = read_one(args.file) if args.file else current
        if article.id != args.id:
            raise AssistError(f"The file is for article {article.id!r}, not {args.id!r}.")
        changes = {name: getattr(args, name) for name in ("title", "answer") if getattr(args, name) is not None}
        for name in ("intents", "tags"):
            if getattr(args, name) is not None:
                changes[name] = tuple(p.strip() for p in getattr(args, name).split(",") if p.strip())
        if args.questions is not None:
            changes["questions"] = tuple(q.strip() for q in args.questions if q.strip())
        article = replace(article, **changes)
        base = args.base_version if args.base_version is not None else current.version
        saved = store.edit(article, base, author=args.author, note=args.note)
    _saved(current.version, saved)
    if saved.version != current.version:
        _after_write(settings, saved)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from assist.kb import render_markdown

    with _store(get_settings()) as store:
        article = store.version(args.id, args.version).article if args.version else store.require(args.id)
    if args.json:
        meta = {"version": article.version, "updated_at": article.updated_at,
                "author": article.author, "deleted": article.deleted}
        print(json.dumps(article.content() | meta, ensure_ascii=False, indent=2))
    else:
        print(render_markdown(article, with_status=True), end="")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with _store(get_settings()) as store:
        articles = store.articles(include_deleted=args.deleted)
    for a in articles:
        if args.intent and args.intent not in a.intents:
            continue
        mark = " [deleted]" if a.deleted else ""
        console.print(f"{escape(a.id)}\tv{a.version}\t{escape(','.join(a.intents))}\t{escape(a.title)}{mark}")
    return 0


def run_history(args: argparse.Namespace) -> int:
    with _store(get_settings()) as store:
        versions = store.history(args.id)
    for v in versions:
        console.print(f"v{v.version}\t{v.action}\t{escape(v.at)}\t{escape(v.author)}\t{escape(v.note)}")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    with _store(get_settings()) as store:
        text = store.diff(args.id, args.from_version, args.to_version)
    print(text or "(no difference)", end="" if text else "\n")
    return 0


def _simple_write(args: argparse.Namespace, action: str) -> int:
    settings = get_settings()
    with _store(settings) as store:
        before = store.require(args.id).version
        if action == "revert":
            saved = store.revert(args.id, args.version, author=args.author, note=args.note)
        elif action == "delete":
            saved = store.delete(args.id, author=args.author, note=args.note,
                                 base_version=args.base_version)
        else:
            saved = store.restore(args.id, author=args.author, note=args.note)
    _saved(before, saved)
    if saved.version != before:
        _after_write(settings, saved if action != "delete" else None)
    return 0


def run_revert(args: argparse.Namespace) -> int:
    return _simple_write(args, "revert")


def run_delete(args: argparse.Namespace) -> int:
    return _simple_write(args, "delete")


def run_restore(args: argparse.Namespace) -> int:
    return _simple_write(args, "restore")


def run_import(args: argparse.Namespace) -> int:
    from assist.kb import import_path

    settings = get_settings()
    with _store(settings) as store:
        batch, result = import_path(store, Path(args.path), args.format, author=args.author,
                                    note=args.note, dry_run=args.dry_run)
    for warning in batch.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    if result is None:
        console.print(f"{len(batch.articles)} articles checked, no problems (dry run: nothing written)")
        return 0
    console.print(f"imported: {len(result.created)} new, {len(result.updated)} updated, "
                  f"{len(result.restored)} restored, {len(result.unchanged)} unchanged")
    if result.created or result.updated or result.restored:
        _after_write(settings, None)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from assist.kb import export_articles
    from assist.kb.files import detect_format

    path = Path(args.path)
    fmt = args.format or ("folder" if path.suffix == "" else detect_format(path))
    with _store(get_settings()) as store:
        articles = store.articles()
    written = export_articles(articles, path, fmt)
    console.print(f"exported {len(articles)} articles to {escape(str(path))} ({len(written)} file(s))")
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    from assist.retrieve import Searcher

    searcher = Searcher.open(get_settings())
    searcher.reindex()
    console.print(f"index rebuilt: {len(searcher)} articles ({searcher.index_kind})")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from assist.retrieve import Searcher

    searcher = Searcher.open(get_settings())
    for hit in searcher.search(args.query, args.k, intent=args.intent, method=args.method):
        console.print(f"[bold]{hit.rank}. {escape(hit.title)}[/] ({escape(hit.article_id)} "
                      f"v{hit.version}, {hit.score:.3f})\n   {escape(hit.say)}\n   [dim]{escape(hit.why)}[/]")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from assist.evaluate.retrieval import (INTENT_METHOD, folder_searcher, predicted_intents,
                                           read_queries, score_retrieval, split_paths)
    from assist.retrieve import METHODS, Searcher

    settings = get_settings()
    paths = args.queries or split_paths(settings.root / "data" / "retrieval", args.split)
    queries = read_queries(paths)
    intents: dict[str, str | None] = {}
    if args.intent:
        with err.status("predicting intents"):
            intents = predicted_intents(settings, [q.query for q in queries])
    with err.status("loading the KB and the index"):
        if args.kb == "store":
            searcher = Searcher.open(settings)
        else:
            searcher = folder_searcher(settings, settings.data_path / "eval" / "kb-folder")
        searcher.prime([q.query for q in queries])
    methods = (*METHODS, INTENT_METHOD) if args.intent else METHODS
    report = score_retrieval(queries, methods, lambda query, method: [
        hit.article_id for hit in (
            searcher.search(query, 10, intent=intents.get(query), method="hybrid", explain=False)
            if method == INTENT_METHOD else searcher.search(query, 10, method=method, explain=False))])
    if args.misses:
        for method, query, want, got in report.misses:
            if method == "hybrid":
                err.print(f"miss: {escape(query)} -> want {','.join(want)}, got {','.join(got)}")
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        console.print(report.markdown())
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from assist.evaluate.bench_retrieval import run_bench as bench

    settings = get_settings()
    report = bench(args.sizes, settings.retrieve, queries=args.queries, data=args.data,
                   progress=lambda message: err.log(message))
    console.print(report.markdown())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    return 0
