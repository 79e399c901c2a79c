"""``assist train intent|sentiment``, ``assist eval intent|sentiment``, ``assist bench nlu``,
``assist nlu export-onnx``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from assist.config import AssistError, Settings, get_settings

console = Console(soft_wrap=True)
err = Console(stderr=True)
TASKS = ("intent", "sentiment")


def _data_args(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--data", type=Path, nargs="+", required=required,
                        help="CSV/TSV/JSONL (header) or split-keyed JSON; several files are joined"
                        + ("" if required else " (default: data/nlu/train_g*.jsonl)"))
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default=None,
                        help="default: 'label', or the task name when the file has no 'label'")
    parser.add_argument("--split", nargs="+", default=(),
                        help="splits of a split-keyed JSON file, e.g. train oos_train (CLINC150)")


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    for task in TASKS:
        _register_train(groups["train"].add_parser(task, help=f"train a {task} model folder"))
        _register_eval(groups["eval"].add_parser(task, help=f"score a {task} model on labeled data"))

    bench = groups["bench"].add_parser("nlu", help="intent + sentiment latency per utterance")
    bench.add_argument("--n", type=int, default=300)
    bench.add_argument("--batch", type=int, default=16)
    bench.add_argument("--backend", choices=["torch", "onnx"])
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=run_bench)

    nlu = sub.add_parser("nlu", help="NLU model maintenance")
    nlu.add_argument("action", choices=["export-onnx"])
    nlu.add_argument("--no-quantize", action="store_true")
    nlu.set_defaults(func=run_export)


def _register_train(train: argparse.ArgumentParser) -> None:
    _data_args(train, required=False)
    train.add_argument("--method", default="logreg+char",
                       choices=["logreg+char", "logreg", "mlp", "setfit", "lora"])
    train.add_argument("--out", type=Path, help="model folder (default: models/nlu/<task>)")
    train.add_argument("--dev", type=Path, nargs="+", help="scored only, never trained on")
    train.add_argument("--dev-split", nargs="+", default=None,
                       help="splits of a split-keyed --dev file (default: --split)")
    train.add_argument("--holdout", type=float, default=0.0,
                       help="keep this fixed-seed stratified fraction out, score it, save it "
                       "as heldout.jsonl in the model folder")
    train.add_argument("--oos-label", help="out-of-scope label: utterances no closer to the "
                       "in-scope training rows than to this label's rows get it")
    train.add_argument("--oos-recall", type=float, default=0.9,
                       help="out-of-scope recall the threshold is tuned for, on --dev data when "
                       "it has out-of-scope rows (default 0.9)")
    train.add_argument("--transfer", type=Path, nargs="+",
                       help="extra labeled data always on the training side (e.g. ko_reviews)")
    train.add_argument("--transfer-limit", type=int, default=0, help="rows kept (0: all)")
    train.add_argument("--transfer-weight", type=float, default=0.3)
    train.add_argument("--transfer-holdout", type=float, default=0.0,
                       help="keep this fixed-seed fraction of the transfer data out (saved "
                       "as transfer_heldout.jsonl) so it can be scored")
    train.add_argument("--aux-label-column", help="lora: second label column (multi-task)")
    train.add_argument("--no-char", action="store_true",
                       help="setfit/lora: head on the vector only (no character n-grams)")
    train.add_argument("--augment", type=int, default=None, help="ASR-noise copies per row")
    train.add_argument("--epochs", type=int, default=2, help="setfit/lora epochs")
    train.add_argument("--max-minutes", type=float, default=30.0)
    train.add_argument("--c", type=float, default=None,
                       help="inverse L2 strength (default: 30 for intent, 100 for sentiment)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--name", default="")
    train.add_argument("--note", default="", help="written into the model card")
    train.set_defaults(func=run_train)


def _register_eval(ev: argparse.ArgumentParser) -> None:
    _data_args(ev, required=True)
    ev.add_argument("--model", type=Path, help="model folder (default: the product's)")
    ev.add_argument("--compare", type=Path, nargs=2, metavar=("MODEL_A", "MODEL_B"))
    ev.add_argument("--asr-noise", type=int, metavar="SEED",
                    help="score ASR-style noisy copies of the texts (seeded)")
    ev.add_argument("--png", type=Path, help="confusion matrix image (default: var/eval/)")
    ev.add_argument("--backend", choices=["torch", "onnx"])
    ev.add_argument("--only-labels", nargs="+",
                    help="keep rows with these gold labels and let the model choose only "
                    "among them (e.g. negative positive: binary accuracy)")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=run_eval)


def _label_columns(args: argparse.Namespace) -> tuple[str, ...]:
    return (args.label_column,) if args.label_column else ("label", args.what)


def _read(args: argparse.Namespace, files: list[Path], allowed=None, splits=None):
    from assist.nlu.data import read_many

    return read_many(files, args.text_column, _label_columns(args),
                     splits=args.split if splits is None else splits, allowed=allowed)


def _write_jsonl(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for text, label in zip(data.texts, data.labels):
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")


def _train_inputs(args: argparse.Namespace, settings: Settings):
    """(data, dev, dev name, out folder) from the arguments or the project defaults."""
    from assist.nlu.data import INTENT_CODES, SENTIMENT_CODES, holdout_split
    from assist.nlu.train import default_train_files

    codes = INTENT_CODES if args.what == "intent" else SENTIMENT_CODES
    if args.data:
        data = _read(args, args.data)
        if args.out is None:
            raise AssistError("--out is required with --data (the default folder is the product's).")
    else:
        data = _read(args, default_train_files(settings), codes)
    dev, dev_name = None, "dev"
    if args.dev:
        dev = _read(args, args.dev, splits=args.dev_split)
    elif not args.data:
        dev = _read(args, default_train_files(settings, "dev"), codes)
    out = args.out or settings.models_path / "nlu" / args.what
    if args.holdout:
        data, dev = holdout_split(data, args.holdout, args.seed)
        dev_name = "heldout"
        _write_jsonl(out / "heldout.jsonl", dev)
    return data, dev, dev_name, out


def _transfer(args: argparse.Namespace, out: Path):
    if not args.transfer:
        return None
    from assist.nlu.data import holdout_split, read_many

    extra = read_many(args.transfer, "text", ("label", args.what))
    if args.transfer_holdout:
        extra, held = holdout_split(extra, args.transfer_holdout, args.seed)
        _write_jsonl(out / "transfer_heldout.jsonl", held)
    if args.transfer_limit and args.transfer_limit < len(extra):
        extra, _ = holdout_split(extra, 1 - args.transfer_limit / len(extra), args.seed)
    return extra


def run_train(args: argparse.Namespace) -> int:
    from assist.nlu.train import PRODUCT_OPTIONS, TrainOptions, train_model

    settings = get_settings()
    data, dev, dev_name, out = _train_inputs(args, settings)
    aux = None
    if args.aux_label_column:
        from assist.nlu.train import default_train_files

        aux = _read(argparse.Namespace(**{**vars(args), "label_column": args.aux_label_column}),
                    args.data or default_train_files(settings)).labels
        if args.holdout or len(aux) != len(data):
            raise AssistError("--aux-label-column needs every row labeled twice and no --holdout.")
    product = PRODUCT_OPTIONS[args.what]
    default_name = product.name if not args.data and args.method == product.method else ""
    opts = TrainOptions(task=args.what, method=args.method, name=args.name or default_name,
                        seed=args.seed,
                        c=args.c if args.c is not None else product.c,
                        augment_copies=args.augment, oos_label=args.oos_label,
                        oos_recall=args.oos_recall,
                        extra=_transfer(args, out), extra_weight=args.transfer_weight,
                        epochs=args.epochs, max_minutes=args.max_minutes, aux_labels=aux,
                        lexical=not args.no_char, note=args.note)
    err.log(f"{args.what}: {len(data)} rows, {len(data.label_set)} labels from {data.source}")
    result = train_model(settings, data, opts, out, dev, progress=lambda m: err.log(m),
                         dev_name=dev_name)
    for split, m in result.card["metrics"].items():
        if "oos_recall" in m:
            console.print(f"{split:>14}: in-scope accuracy {m['in_scope_accuracy']:.4f} "
                          f"(n {m['n_in_scope']}), oos recall {m['oos_recall']:.4f} (n {m['n_oos']})")
            continue
        console.print(f"{split:>14}: n {m['n']}, accuracy {m['accuracy']:.4f}, macro-F1 "
                      f"{m['macro_f1']:.4f}, top-3 {m['top3_accuracy']:.4f}, ECE {m['ece']:.4f}")
    console.print(f"model folder: {result.folder} ({result.seconds:.0f} s)")
    if args.out is None:
        console.print(f"the product uses it with nlu.{args.what}_model = \"{out}\" "
                      "(assist.toml or ASSIST_NLU__" + args.what.upper() + "_MODEL)")
    return 0


def _predict(settings: Settings, folder: Path | None, task: str, texts: list[str], backend,
             only: list[str] | None = None):
    """(TaskModel, per-row decisions, probabilities, neighbor scores) for one model folder;
    ``only`` restricts the choice."""
    from assist.nlu.model import (clean_text, encoder_for, load_encoder_backend, load_task,
                                  resolve_task_dir)
    from assist.nlu.train import embed

    shared = load_encoder_backend(settings, backend)
    folder = folder or resolve_task_dir(settings, task, shared)
    model = load_task(folder, settings.nlu.unsure_threshold if task == "intent" else None)
    encoder = encoder_for(settings, model, folder, shared)
    cleaned = [clean_text(t, settings.nlu.max_chars)[0] or "." for t in texts]
    decisions, probs, scope = model.decide_many(
        embed(encoder, cleaned, desc=f"encode ({folder.name})"), cleaned, only=only)
    return model, decisions, probs, scope


def _show(report, name: str) -> None:
    from rich.table import Table

    from assist.evaluate.classification import confusion_text

    table = Table(title=f"{name}: per class")
    for col in ("label", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for c in report.per_class:
        table.add_row(c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.support))
    console.print(table)
    console.print(confusion_text(report), markup=False, highlight=False)
    console.print(f"[bold]{name}[/]: n {report.n}, accuracy {report.accuracy:.4f}, macro-F1 "
                  f"{report.macro_f1:.4f}, top-3 {report.top3_accuracy:.4f}, ECE {report.ece:.4f}, "
                  f"unsure {report.unsure_rate:.3f} (accuracy when sure "
                  f"{report.accuracy_when_sure:.4f})")
    if report.oos:
        console.print(f"out-of-scope '{report.oos['label']}': in-scope accuracy "
                      f"{report.oos['in_scope_accuracy']:.4f}, oos recall {report.oos['oos_recall']:.4f}; "
                      f"gate score ({report.oos['score']}) AUROC {report.oos['auroc']}")
        console.print(f"had the threshold ({report.oos['score']}) been: " + "; ".join(
            f"{row['threshold']:.3f} -> {row['in_scope_accuracy']:.3f} / {row['oos_recall']:.3f}"
            for row in report.oos["by_threshold"][::2]) + " (in-scope accuracy / oos recall)")
    if report.unknown_labels:
        console.print("[yellow]labels the model does not know (counted as errors):[/] " +
                      ", ".join(f"{label} ({n})" for label, n in report.unknown_labels))


def run_eval(args: argparse.Namespace) -> int:
    from assist.evaluate.classification import plot_confusion, score_decisions
    from assist.nlu.augment import noisy_copies

    settings = get_settings()
    data = _read(args, args.data)
    if args.only_labels:
        data = data.subset(i for i, label in enumerate(data.labels) if label in args.only_labels)
    texts = list(data.texts)
    if args.asr_noise is not None:
        texts = noisy_copies(texts, seed=args.asr_noise)
    folders = list(args.compare) if args.compare else [args.model]
    results = []
    for folder in folders:
        model, decisions, _, scope = _predict(settings, folder, args.what, texts, args.backend,
                                              args.only_labels)
        report, _ = score_decisions(model, decisions, list(data.labels), scope)
        name = model.name if folder is None else str(folder)
        _show(report, name)
        png = args.png or settings.data_path / "eval" / f"{args.what}_confusion.png"
        if len(folders) > 1:
            png = png.with_name(f"{png.stem}_{len(results)}{png.suffix}")
        console.print(f"confusion matrix: {plot_confusion(report, png, name)}")
        results.append((name, report))
    if args.json:
        print(json.dumps(_json_summary(results, args, data), ensure_ascii=False))
    return 0


def _json_summary(results, args, data) -> dict:
    name, first = results[0]
    out = {"model": name, "data": data.source, "asr_noise_seed": args.asr_noise} | first.to_dict()
    if len(results) > 1:
        other_name, other = results[1]
        out["compare"] = {"model": other_name} | other.to_dict()
        out["delta"] = {k: round(getattr(other, k) - getattr(first, k), 4)
                        for k in ("accuracy", "macro_f1", "top3_accuracy", "ece")}
    return out


def run_bench(args: argparse.Namespace) -> int:
    from assist.evaluate.bench_nlu import bench_nlu
    from assist.nlu.data import read_many
    from assist.nlu.model import load_nlu
    from assist.nlu.train import default_train_files

    settings = get_settings()
    backend = args.backend or settings.nlu.backend
    model = load_nlu(settings, backend=backend)
    texts = list(read_many(default_train_files(settings, "dev"), label_column="intent").texts)
    report = bench_nlu(model, texts, backend, n=args.n, batch_size=args.batch)
    console.print(report.markdown())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from assist.nlu.onnx_export import export_onnx

    report = export_onnx(get_settings(), quantize=not args.no_quantize,
                         progress=lambda m: err.log(m))
    console.print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0
