"""Train an intent or sentiment model folder from labeled text; build the product default.

``train_model`` reads top to bottom: check the data -> add ASR-noise copies (Korean) ->
encode once (cached) -> out-of-fold predictions (grouped so a noisy copy never tests its
own original) -> temperature + unsure/out-of-scope threshold from them -> final head on
everything -> scores on the dev split, if given -> model folder with card.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from assist.config import AssistError, Settings
from assist.nlu.augment import noisy_copies
from assist.nlu.data import (INTENT_CODES, SENTIMENT_CODES, LabeledData, check_min_per_class,
                             read_many)
from assist.nlu.heads import (Head, expected_calibration_error, fit_logreg, fit_mlp,
                              fit_temperature, softmax, tune_unsure_threshold)
from assist.nlu.model import BUNDLED_DIR, CARD_FILE, PROBE_TEXTS, check_probe, load_task
from assist.nlu.neighbors import NeighborScore, threshold_for_recall
from assist.nlu.model_card import write_card

__all__ = ["TrainOptions", "TrainResult", "train_model", "embed", "ensure_default_nlu",
           "default_train_files", "score_probs"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
METHODS = ("logreg+char", "logreg", "mlp", "setfit", "lora")
# ASR-noise copies per Korean row for the heads: on the dev split 1 -> 3 copies raised intent
# accuracy 0.879 -> 0.889 clean and 0.851 -> 0.863 ASR-style (2026-11-23); encoding them is the
# cost (about a minute per 4,000 copies on 2 cores), so fine-tuning keeps one.
NOISE_COPIES = 3


@dataclass(frozen=True, slots=True)
class TrainOptions:
    """How to train one task; defaults are what the product's bundled heads use."""

    task: str = "intent"
    method: str = "logreg+char"
    name: str = ""
    seed: int = 0
    c: float = 30.0  # inverse L2 strength of logistic regression
    augment_copies: int | None = None  # ASR-noise copies per row; None: NOISE_COPIES for Hangul
    folds: int = 5
    unsure_precision: float = 0.92  # out-of-fold precision the unsure threshold aims at
    oos_label: str | None = None  # far-from-training utterances get this label (CLINC "oos")
    oos_recall: float = 0.9  # out-of-scope recall the threshold is tuned for (on dev if given)
    extra: LabeledData | None = None  # transfer data, always in the training side
    extra_weight: float = 0.3
    epochs: int = 2  # fine-tuning methods only
    aux_labels: tuple[str, ...] | None = None  # lora: a second label per row (multi-task)
    max_minutes: float = 30.0  # fine-tuning methods stop here
    cache: bool = True  # keep encoder vectors under models/.cache (re-training is quick)
    lexical: bool = True  # char n-grams beside the vector (logreg+char, setfit, lora)
    note: str = ""  # why this model is what it is (written into the card)


# What the bundled heads were trained with (assist/nlu/trained/*/model_card.json): sentiment
# gained 1.3 macro-F1 points on dev with weaker regularization (C 30 -> 100), intent none.
PRODUCT_OPTIONS = {
    "intent": TrainOptions(task="intent", name="intent-ko-telecom"),
    "sentiment": TrainOptions(task="sentiment", name="sentiment-ko-telecom", c=100.0),
}


@dataclass(frozen=True, slots=True)
class TrainResult:
    folder: Path
    card: dict
    seconds: float


def default_train_files(settings: Settings, split: str = "train") -> list[Path]:
    """data/nlu/<split>_g*.jsonl: the project's own call-center utterances."""
    files = sorted((settings.root / "data" / "nlu").glob(f"{split}_g*.jsonl"))
    if not files:
        raise AssistError(f"No data/nlu/{split}_g*.jsonl under {settings.root}.")
    return files


def embed(encoder, texts: Sequence[str], cache_dir: Path | None = None,
          desc: str = "encode", batch_size: int = 64) -> np.ndarray:
    """Query vectors for ``texts`` with a progress bar. With ``cache_dir``, vectors are kept
    per (encoder, text), so adding a few lines to the data encodes only those lines."""
    key = getattr(encoder, "fingerprint", None)
    cache = None
    if cache_dir is not None and isinstance(key, str) and key != "unknown":
        cache = _VectorCache(cache_dir / f"{key}.sqlite3", encoder.dim)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo = list(range(len(texts)))
    if cache is not None:
        found = cache.get(texts)
        todo = [i for i in todo if i not in found]
        for i, vector in found.items():
            out[i] = vector
    chunk = 256
    with tqdm(total=len(todo), desc=desc, unit="text", leave=False, disable=not todo) as bar:
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            out[part] = encoder.encode_queries([texts[i] for i in part], batch_size)
            if cache is not None:
                cache.put([texts[i] for i in part], out[part])
            bar.update(len(part))
    return out


class _VectorCache:
    """SQLite table text-digest -> float32 vector, one file per encoder fingerprint."""

    def __init__(self, path: Path, dim: int) -> None:
        import sqlite3

        path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (digest TEXT PRIMARY KEY, v BLOB)")

    @staticmethod
    def _digest(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        wanted: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            wanted.setdefault(self._digest(text), []).append(i)
        found: dict[int, np.ndarray] = {}
        keys = list(wanted)
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            rows = self.db.execute(f"SELECT digest, v FROM vectors WHERE digest IN "
                                   f"({','.join('?' * len(part))})", part)
            for digest, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dim,):
                    found.update((i, vector) for i in wanted[digest])
        return found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                [(self._digest(t), np.asarray(v, dtype=np.float32).tobytes())
                                 for t, v in zip(texts, vectors)])


def score_probs(probs: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> dict:
    """accuracy, macro-F1 (over labels present in y), top-3 accuracy, ECE."""
    from sklearn.metrics import f1_score

    pred = probs.argmax(1)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    present = sorted(set(y.tolist()))
    return {"n": int(len(y)), "accuracy": round(float((pred == y).mean()), 4),
            "macro_f1": round(float(f1_score(y, pred, labels=present, average="macro",
                                             zero_division=0)), 4),
            "top3_accuracy": round(float((top3 == y[:, None]).any(1).mean()), 4),
            "ece": round(expected_calibration_error(probs, y), 4)}


def _is_hangul(texts: Sequence[str]) -> bool:
    sample = "".join(texts[:200])
    return sum("\uac00" <= ch <= "\ud7a3" for ch in sample) > 0.3 * max(1, len(sample))


@dataclass(slots=True)
class _Rows:
    """Training rows: originals (group = own index), their noisy copies, then extra data."""

    texts: list[str]
    y: np.ndarray
    groups: np.ndarray
    core: np.ndarray  # True for call-center rows and their copies (used for calibration)
    weight: np.ndarray
    copies: int = 0
    notes: dict = field(default_factory=dict)


def _rows(data: LabeledData, labels: Sequence[str], opts: TrainOptions) -> _Rows:
    index = {label: i for i, label in enumerate(labels)}
    copies = opts.augment_copies
    if copies is None:
        copies = NOISE_COPIES if _is_hangul(data.texts) else 0
    texts = list(data.texts) + noisy_copies(data.texts, seed=opts.seed, copies=copies)
    y = [index[label] for label in data.labels] * (copies + 1)
    groups = list(range(len(data))) * (copies + 1)
    core = [True] * len(texts)
    if opts.extra is not None:
        texts += list(opts.extra.texts)
        y += [index[label] for label in opts.extra.labels]
        groups += [-1] * len(opts.extra)
        core += [False] * len(opts.extra)
    weight = np.where(np.array(core), 1.0, opts.extra_weight)
    return _Rows(texts, np.array(y), np.array(groups), np.array(core), weight, copies)


def _fitter(opts: TrainOptions, labels: Sequence[str]) -> Callable[..., Head]:
    """(vectors, y, weights, texts) -> Head for the chosen method."""
    if opts.method == "mlp":
        return lambda x, y, w, t: fit_mlp(x, y, labels, opts.seed)
    lexical = opts.method in ("logreg+char", "setfit", "lora") and opts.lexical
    return lambda x, y, w, t: fit_logreg(x, y, labels, opts.seed, opts.c, w,
                                         t if lexical else None)


def _out_of_fold(fit: Callable[..., Head], x: np.ndarray, rows: _Rows, folds: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of every core row from a head fitted without its group; extra rows always fit."""
    from sklearn.model_selection import StratifiedGroupKFold

    core = np.flatnonzero(rows.core)
    counts = np.bincount(rows.y[core])
    folds = int(max(2, min(folds, counts[counts > 0].min())))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    extra = np.flatnonzero(~rows.core)
    logits = np.zeros((len(core), 0), dtype=np.float32)
    for train_pos, test_pos in tqdm(list(splitter.split(core, rows.y[core], rows.groups[core])),
                                    desc="calibration folds", leave=False):
        fit_idx = np.concatenate([core[train_pos], extra])
        head = fit(x[fit_idx], rows.y[fit_idx], rows.weight[fit_idx],
                   [rows.texts[i] for i in fit_idx])
        part = head.logits(x[core[test_pos]], [rows.texts[i] for i in core[test_pos]])
        if logits.shape[1] == 0:
            logits = np.zeros((len(core), part.shape[1]), dtype=np.float32)
        logits[test_pos] = part
    return logits, rows.y[core]


def _threshold(opts: TrainOptions, probs: np.ndarray, y: np.ndarray) -> tuple[float, str | None, str]:
    """The probability threshold under which an intent is "unsure" (none for sentiment)."""
    if opts.task == "intent":
        value = tune_unsure_threshold(probs, y, opts.unsure_precision)
        return value, "unsure", f"lowest score with out-of-fold precision >= {opts.unsure_precision}"
    return 0.0, None, "none: the top label is always given with its calibrated score"


@dataclass(frozen=True, slots=True)
class _Scope:
    """Out-of-scope gate of a taxonomy with an out-of-scope label: neighbors + threshold."""

    neighbors: NeighborScore
    threshold: float
    rule: str
    metrics: dict


def _scope_gate(opts: TrainOptions, x: np.ndarray, y: np.ndarray, oos: int,
                dev: tuple[np.ndarray, np.ndarray, np.ndarray] | None, dev_name: str) -> _Scope:
    """Neighbor score from the original training rows; the threshold that reaches
    ``opts.oos_recall`` on the dev split when it has out-of-scope rows (the figure reported
    for it is cross-fitted: tuned on one half, scored on the other), else leave-one-out on the
    training rows (optimistic: the encoder may have been tuned on them)."""
    neighbors = NeighborScore.fit(x, y == oos)
    if dev is not None and (dev[1] == oos).any():
        dev_x, dev_y, top = dev
        scores = neighbors.score(dev_x)
        threshold = threshold_for_recall(scores, dev_y == oos, opts.oos_recall)
        rule = (f"lowest neighbor-score threshold with oos recall >= {opts.oos_recall} on "
                f"{dev_name}")
        return _Scope(neighbors, threshold, rule,
                      {f"{dev_name}_oos_crossfit": _crossfit(scores, dev_y, top, oos, opts)})
    scores = NeighborScore.leave_one_out(x, y == oos)
    threshold = threshold_for_recall(scores, y == oos, opts.oos_recall)
    rule = (f"lowest neighbor-score threshold with leave-one-out oos recall >= "
            f"{opts.oos_recall} on the training rows")
    return _Scope(neighbors, threshold, rule, {})


def _gated(scores: np.ndarray, top: np.ndarray, threshold: float, oos: int) -> np.ndarray:
    return np.where(scores < threshold, oos, top)


def _scope_figures(pred: np.ndarray, y: np.ndarray, oos: int) -> dict:
    inside = y != oos
    return {"n_in_scope": int(inside.sum()), "n_oos": int((~inside).sum()),
            "in_scope_accuracy": round(float((pred[inside] == y[inside]).mean()), 4),
            "oos_recall": round(float((pred[~inside] == oos).mean()), 4)}


def _crossfit(scores: np.ndarray, y: np.ndarray, top: np.ndarray, oos: int,
              opts: TrainOptions) -> dict:
    """In-scope accuracy / oos recall with each half's threshold tuned on the other half, so
    the dev figure is not scored on the rows that set its threshold."""
    from sklearn.model_selection import StratifiedKFold

    pred = np.zeros_like(y)
    halves = StratifiedKFold(n_splits=2, shuffle=True, random_state=opts.seed)
    for tune, test in halves.split(scores, y == oos):
        t = threshold_for_recall(scores[tune], y[tune] == oos, opts.oos_recall)
        pred[test] = _gated(scores[test], top[test], t, oos)
    return _scope_figures(pred, y, oos)


def _encoder_for(settings: Settings, opts: TrainOptions, data: LabeledData, out_dir: Path,
                 progress: Progress):
    """The frozen shared encoder, or (setfit/lora) an adapted copy saved into ``out_dir``."""
    if opts.method in ("setfit", "lora"):
        from assist.nlu.finetune import tune_encoder

        return tune_encoder(settings, data, opts, out_dir, progress)
    from assist.nlu.model import load_encoder_backend

    return load_encoder_backend(settings, "torch")


def train_model(settings: Settings, data: LabeledData, opts: TrainOptions, out_dir: Path,
                dev: LabeledData | None = None, progress: Progress = log.info,
                dev_name: str = "dev") -> TrainResult:
    """Fit, calibrate and write one model folder; ``dev`` is scored, never trained on."""
    if opts.method not in METHODS:
        raise AssistError(f"Unknown method {opts.method!r}; choose from {', '.join(METHODS)}.")
    started = time.monotonic()
    check_min_per_class(data, 2)
    labels = sorted(set(data.labels) | set(opts.extra.labels if opts.extra else ()))
    if opts.oos_label and opts.oos_label not in labels:
        raise AssistError(f"--oos-label {opts.oos_label!r} has no examples in {data.source}.")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = _rows(data, labels, opts)
    encoder = _encoder_for(settings, opts, data, out_dir, progress)
    cache = settings.models_path / ".cache" / "nlu-embeddings" if opts.cache else None
    progress(f"{opts.task}: encoding {len(rows.texts)} rows ({rows.copies} ASR-noise copies)")
    x = embed(encoder, rows.texts, cache, f"encode {opts.task}")
    fit = _fitter(opts, labels)
    progress(f"{opts.task}: {opts.folds}-fold out-of-fold predictions for calibration")
    oof_logits, oof_y = _out_of_fold(fit, x, rows, opts.folds, opts.seed)
    temperature = fit_temperature(oof_logits, oof_y)
    oof_probs = softmax(oof_logits / temperature)
    progress(f"{opts.task}: temperature {temperature:.3f}; final fit")
    head = fit(x, rows.y, rows.weight, rows.texts).with_temperature(temperature)
    head.save(out_dir)
    metrics = {"out_of_fold": score_probs(oof_probs, oof_y, labels)
               | {"ece_before_scaling": round(expected_calibration_error(softmax(oof_logits), oof_y), 4)}}
    dev_x = dev_y = None
    if dev is not None:
        dev_x, dev_y, dev_metrics = _dev_metrics(encoder, head, dev, labels, cache, opts.seed,
                                                 dev_name)
        metrics |= dev_metrics
    if opts.oos_label:
        oos = list(labels).index(opts.oos_label)
        top = None if dev is None else _in_scope_top(head, dev_x, list(dev.texts), oos)
        gate = _scope_gate(opts, x[:len(data)], rows.y[:len(data)], oos,
                           None if dev is None else (dev_x, dev_y, top), dev_name)
        gate.neighbors.save(out_dir)
        threshold, fallback, rule = gate.threshold, opts.oos_label, gate.rule
        metrics |= gate.metrics
        if dev is not None:  # in-sample when the threshold was tuned on this split
            metrics[f"{dev_name}_oos"] = _scope_figures(
                _gated(gate.neighbors.score(dev_x), top, threshold, oos), dev_y, oos)
    else:
        threshold, fallback, rule = _threshold(opts, oof_probs, oof_y)
    progress(f"{opts.task}: threshold {threshold:.4f} ({rule})")
    card = {
        "name": opts.name or f"{opts.task}-{opts.method}", "task": opts.task,
        "method": opts.method, "labels": list(labels), "threshold": threshold,
        "fallback_label": fallback, "threshold_rule": rule,
        "threshold_score": "neighbors" if opts.oos_label else "probability",
        "temperature": round(temperature, 4),
        "encoder": _encoder_card(settings, encoder, opts, out_dir),
        "data": _data_card(data, opts, rows), "metrics": metrics,
        "training": {"seed": opts.seed, "c": opts.c, "folds": opts.folds,
                     "seconds": round(time.monotonic() - started, 1)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "notes": opts.note,
    }
    write_card(out_dir, card)
    progress(f"{opts.task}: wrote {out_dir} in {card['training']['seconds']} s")
    return TrainResult(out_dir, card, time.monotonic() - started)


def _dev_metrics(encoder, head: Head, dev: LabeledData, labels: Sequence[str], cache: Path | None,
                 seed: int, name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(vectors, label indices, scores) of the fixed dev split; rows with labels the model
    lacks count as wrong."""
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index.get(label, -1) for label in dev.labels])
    texts = list(dev.texts)
    x = embed(encoder, texts, cache, "encode dev")
    out = {name: score_probs(head.probs(x, texts), y, labels)}
    if _is_hangul(texts):
        noisy = noisy_copies(texts, seed=seed + 1000)
        probs = head.probs(embed(encoder, noisy, cache, "encode dev asr"), noisy)
        out[f"{name}_asr_noise"] = score_probs(probs, y, labels)
    return x, y, out


def _in_scope_top(head: Head, x: np.ndarray, texts: list[str], oos: int) -> np.ndarray:
    probs = head.probs(x, texts)
    probs[:, oos] = -1.0
    return probs.argmax(axis=1)


def _encoder_card(settings: Settings, encoder, opts: TrainOptions, out_dir: Path) -> dict:
    probe = encoder.encode_queries(list(PROBE_TEXTS))
    card = {"name": settings.nlu.encoder_dir_name, "dim": int(encoder.dim), "prefix": "query: ",
            "probe": [[round(float(v), 5) for v in row] for row in probe]}
    if opts.method in ("setfit", "lora"):
        card["adapter"] = "adapter"
    return card


def _shown_path(source: str) -> str:
    """Paths inside the working directory are written relative, so a card reads the same on
    every clone."""
    try:
        return str(Path(source).resolve().relative_to(Path.cwd()))
    except ValueError:
        return source


def _data_card(data: LabeledData, opts: TrainOptions, rows: _Rows) -> dict:
    sources = sorted({_shown_path(s) for s in data.source.split("+")})
    out = {"train": sources, "rows": len(data), "counts": data.counts(),
           "asr_noise_copies": rows.copies}
    if opts.extra is not None:
        out["transfer"] = {"source": opts.extra.source, "rows": len(opts.extra),
                           "weight": opts.extra_weight}
    return out


def _heads_match(folder: Path, encoder) -> bool:
    try:
        check_probe(load_task(folder), encoder)
        return True
    except AssistError:
        return False


def ensure_default_nlu(settings: Settings, progress: Progress = print) -> dict:
    """Make the default Korean intent + sentiment models usable; returns a manifest entry.

    The bundled heads (assist/nlu/trained, about 7 MB, trained on frozen embeddings) are checked
    against the built encoder with probe sentences (a second). Only when they do not match
    (other encoder weights) are both heads retrained from data/nlu into models/nlu with the
    bundled heads' options (logistic regression on frozen embeddings, about 8 minutes on 2
    cores, most of it encoding the ASR-noise copies).
    """
    from assist.nlu.model import load_encoder_backend

    encoder = load_encoder_backend(settings, "torch")
    bundled = [BUNDLED_DIR / task for task in ("intent", "sentiment")]
    if all((f / CARD_FILE).is_file() and _heads_match(f, encoder) for f in bundled):
        progress("nlu: bundled intent and sentiment heads match the encoder")
        entry = {"source": "bundled", "path": str(BUNDLED_DIR)}
    else:
        progress("nlu: bundled heads missing or made for other weights; retraining (~8 min)")
        out = settings.models_path / "nlu"
        for task, codes in (("intent", INTENT_CODES), ("sentiment", SENTIMENT_CODES)):
            data = read_many(default_train_files(settings), label_column=task, allowed=codes)
            train_model(settings, data, PRODUCT_OPTIONS[task], out / task, progress=progress)
        entry = {"source": "trained", "path": str(out)}
    return entry  # the ONNX export is checked against these heads by the build step after
