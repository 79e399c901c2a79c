"""The loaded classifier: one encoder pass per utterance, shared by intent and sentiment.

``NluModel.classify`` reads top to bottom: clean the text (control characters out, length
capped) -> encode once -> each head gives calibrated probabilities -> a low-confidence
intent becomes the model's fallback ("unsure", or the out-of-scope label of a taxonomy
that has one). Any string gives a defined ``Insight``; empty text never reaches the encoder.
"""
from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from assist.config import AssistError, NluOptions, Settings
from assist.nlu.heads import Head
from assist.nlu.neighbors import NeighborScore

__all__ = [
    "Insight",
    "TaskModel",
    "NluModel",
    "load_task",
    "load_nlu",
    "default_model_dirs",
    "resolve_task_dir",
    "clean_text",
    "PROBE_TEXTS",
    "BUNDLED_DIR",
    "CARD_FILE",
]

log = logging.getLogger(__name__)
BUNDLED_DIR = Path(__file__).resolve().parent / "trained"
CARD_FILE = "model_card.json"
UNSURE = "unsure"
PROBE_TEXTS = ("요금이 왜 이렇게 많이 나왔어요", "인터넷이 안 돼요", "I lost my card")
PROBE_MIN_COSINE = 0.95  # int8 ONNX stays above 0.98; another encoder falls far below
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


class EncoderLike(Protocol):
    dim: int

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class Insight:
    """What one customer utterance is about and how the customer feels.

    ``unsure`` is set when the intent's calibrated score is under the threshold (the intent is
    then the fallback label) or the text was empty; ``note`` says "empty" or "truncated".
    """

    intent: str
    intent_score: float
    top_intents: tuple[tuple[str, float], ...]
    sentiment: str
    sentiment_score: float
    unsure: bool
    model: str
    note: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class TaskModel:
    """One trained head with its card: labels, calibration, threshold, fallback."""

    name: str
    head: Head
    threshold: float
    fallback: str | None  # label given below the threshold; None: always the top label
    card: dict
    neighbors: NeighborScore | None = None  # set: the threshold applies to its score

    @property
    def labels(self) -> tuple[str, ...]:
        return self.head.labels

    def probs(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities; with a neighbor score the out-of-scope label is left to
        it, so the head ranks only in-scope labels."""
        probs = self.head.probs(vectors, texts)
        if self.neighbors is not None and self.fallback in self.labels:
            probs[:, self.labels.index(self.fallback)] = 0.0
            probs /= np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
        return probs

    def scope_scores(self, vectors: np.ndarray) -> np.ndarray | None:
        """Neighbor scores (higher: more in scope), or None for a probability threshold."""
        return None if self.neighbors is None else self.neighbors.score(vectors)

    def decide_many(self, vectors: np.ndarray, texts: list[str], top_k: int | None = None,
                    only: list[str] | None = None) -> tuple[list[tuple], np.ndarray, np.ndarray | None]:
        """(decisions, probabilities, neighbor scores or None) for a batch, as evaluations
        need them; ``only`` restricts the choice to those labels."""
        probs = self.probs(vectors, texts)
        scope = self.scope_scores(vectors)
        if only:
            keep = np.array([label in only for label in self.labels])
            probs = np.where(keep, probs, 0.0)
            probs = probs / np.clip(probs.sum(1, keepdims=True), 1e-12, None)
        top_k = top_k or max(3, min(5, len(self.labels)))
        decisions = [self.decide(row, top_k, None if scope is None else float(scope[i]))
                     for i, row in enumerate(probs)]
        return decisions, probs, scope

    def decide(self, probs: np.ndarray, top_k: int = 3,
               scope: float | None = None) -> tuple[str, float, tuple, bool]:
        """(label, score, top-k (label, score), unsure) for one probability row; ``scope`` is
        the row's neighbor score when the model has one."""
        order = np.argsort(-probs)[:top_k]
        top = tuple((self.labels[i], round(float(probs[i]), 4)) for i in order)
        label, score = top[0]
        gate = score if scope is None else scope
        if self.fallback is not None and gate < self.threshold:
            return self.fallback, score, top, True
        return label, score, top, False


def load_task(folder: Path, threshold: float | None = None) -> TaskModel:
    """A model folder written by ``assist train``; ``threshold`` overrides the tuned one."""
    folder = Path(folder)
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise AssistError(f"{folder}: no {CARD_FILE}; train one with `assist train`.")
    card = json.loads(card_path.read_text("utf-8"))
    head = Head.load(folder)
    tuned = float(card.get("threshold", 0.0))
    fallback = card.get("fallback_label")
    neighbors = NeighborScore.load(folder) if card.get("threshold_score") == "neighbors" else None
    return TaskModel(card.get("name", folder.name), head,
                     tuned if threshold is None or neighbors else threshold, fallback, card,
                     neighbors)


def clean_text(text: object, max_chars: int) -> tuple[str, str]:
    """(text fit for the encoder, note): control characters out, spaces collapsed, capped."""
    value = text if isinstance(text, str) else ("" if text is None else str(text))
    value = unicodedata.normalize("NFC", _CONTROL.sub(" ", value))
    value = " ".join(value.split())
    if not value:
        return "", "empty"
    if len(value) > max_chars:
        return value[:max_chars], "truncated"
    return value, ""


class NluModel:
    """Intent + sentiment on one shared encoder pass."""

    def __init__(self, encoder: EncoderLike, intent: TaskModel, sentiment: TaskModel | None,
                 opts: NluOptions = NluOptions(),
                 sentiment_encoder: EncoderLike | None = None) -> None:
        self.encoder = encoder
        self.intent = intent
        self.sentiment = sentiment
        self.sentiment_encoder = sentiment_encoder  # None: the intent's pass is shared
        self.opts = opts
        self.name = intent.name + (f"+{sentiment.name}" if sentiment else "")

    def classify(self, text: str) -> Insight:
        return self.classify_many([text])[0]

    def classify_many(self, texts: list[str], batch_size: int = 32) -> list[Insight]:
        cleaned = [clean_text(t, self.opts.max_chars) for t in texts]
        todo = [i for i, (t, _) in enumerate(cleaned) if t]
        kept = [cleaned[i][0] for i in todo]
        vectors = self.encoder.encode_queries(kept, batch_size)
        intent_p = self.intent.probs(vectors, kept) if todo else None
        scope = self.intent.scope_scores(vectors) if todo else None
        sent_p = None
        if todo and self.sentiment is not None:
            if self.sentiment_encoder is not None:
                vectors = self.sentiment_encoder.encode_queries(kept, batch_size)
            sent_p = self.sentiment.probs(vectors, kept)
        out = [self._empty() for _ in texts]
        for row, i in enumerate(todo):
            out[i] = self._insight(intent_p[row], None if sent_p is None else sent_p[row],
                                   cleaned[i][1], None if scope is None else float(scope[row]))
        return out

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Encoder vectors of cleaned texts (empty texts give zero vectors)."""
        cleaned = [clean_text(t, self.opts.max_chars)[0] for t in texts]
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(cleaned) if t]
        if todo:
            out[todo] = self.encoder.encode_queries([cleaned[i] for i in todo])
        return out

    def _insight(self, intent_p: np.ndarray, sent_p: np.ndarray | None, note: str,
                 scope: float | None = None) -> Insight:
        intent, score, top, unsure = self.intent.decide(intent_p, scope=scope)
        sentiment, sentiment_score = "neutral", 0.0
        if sent_p is not None:
            sentiment, sentiment_score, _, _ = self.sentiment.decide(sent_p)
        return Insight(intent, score, top, sentiment, sentiment_score, unsure, self.name, note)

    def _empty(self) -> Insight:
        """Nothing was said: the 'no information' intent when the taxonomy has one."""
        intent = "none" if "none" in self.intent.labels else (self.intent.fallback or UNSURE)
        return Insight(intent, 0.0, (), "neutral", 0.0, True, self.name, "empty")


def default_model_dirs(settings: Settings) -> tuple[Path, Path]:
    """Configured folders, else the bundled heads (see ``resolve_task_dir`` for the fallback)."""
    opts = settings.nlu
    return tuple(settings.path(Path(configured)) if configured else BUNDLED_DIR / task
                 for task, configured in (("intent", opts.intent_model),
                                          ("sentiment", opts.sentiment_model)))


def resolve_task_dir(settings: Settings, task: str, encoder: EncoderLike) -> Path:
    """The folder to load for ``task``: the configured one; else the bundled heads when they
    were trained on this encoder; else models/nlu/<task>, which ``ensure_default_nlu``
    retrains only when the bundled heads do not match the built encoder."""
    configured = default_model_dirs(settings)[("intent", "sentiment").index(task)]
    if configured != BUNDLED_DIR / task:
        return configured
    rebuilt = settings.models_path / "nlu" / task
    for folder in (BUNDLED_DIR / task, rebuilt):
        if (folder / CARD_FILE).is_file():
            try:
                check_probe(load_task(folder), encoder)
                return folder
            except AssistError:
                log.warning("%s: made for other encoder weights, trying the next folder", folder)
    return BUNDLED_DIR / task


def load_encoder_backend(settings: Settings, backend: str | None = None) -> EncoderLike:
    """The torch encoder, or its ONNX export when ``nlu.backend`` is "onnx"."""
    backend = backend or settings.nlu.backend
    if backend == "onnx":
        from assist.nlu.onnx_export import load_onnx_encoder

        return load_onnx_encoder(settings)
    from assist.nlu.encoder import load_encoder

    return load_encoder(settings.models_path / settings.nlu.encoder_dir_name)


def encoder_for(settings: Settings, task: TaskModel, folder: Path, shared: EncoderLike) -> EncoderLike:
    """The shared encoder, or the base + this model's LoRA adapter (lora/setfit methods)."""
    adapter = task.card.get("encoder", {}).get("adapter")
    if not adapter:
        return shared
    from assist.nlu.finetune import load_adapted

    return load_adapted(settings.models_path / settings.nlu.encoder_dir_name,
                        (Path(folder) / adapter).resolve())


def check_probe(task: TaskModel, encoder: EncoderLike) -> float:
    """Min cosine between the card's probe vectors and this encoder's; raises when the head
    was trained on other weights (its scores would be meaningless)."""
    probe = task.card.get("encoder", {}).get("probe")
    if not probe:
        return 1.0
    now = encoder.encode_queries(list(PROBE_TEXTS))
    then = np.asarray(probe, dtype=np.float32)
    cos = (now * then).sum(1) / (np.linalg.norm(now, axis=1) * np.linalg.norm(then, axis=1) + 1e-9)
    if float(cos.min()) < PROBE_MIN_COSINE:
        raise AssistError(f"{task.name} was trained on other encoder weights (probe cosine "
                          f"{cos.min():.3f}); retrain it or run `make models`.")
    return float(cos.min())


def load_nlu(settings: Settings, intent_dir: Path | None = None,
             sentiment_dir: Path | None = None, backend: str | None = None,
             with_sentiment: bool = True) -> NluModel:
    """Encoder + heads, checked against each other."""
    shared = load_encoder_backend(settings, backend)
    intent_dir = intent_dir or resolve_task_dir(settings, "intent", shared)
    sentiment_dir = sentiment_dir or resolve_task_dir(settings, "sentiment", shared)
    intent = load_task(intent_dir, settings.nlu.unsure_threshold)
    encoder = encoder_for(settings, intent, intent_dir, shared)
    check_probe(intent, encoder)
    sentiment, second = None, None
    if with_sentiment:
        sentiment = load_task(sentiment_dir)
        second = encoder_for(settings, sentiment, sentiment_dir, shared)
        check_probe(sentiment, second)
    return NluModel(encoder, intent, sentiment, settings.nlu,
                    None if second is encoder else second)
