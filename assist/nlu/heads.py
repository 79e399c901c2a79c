"""Classifier heads on sentence embeddings: fit, calibrate, save, run in numpy.

A head is a tiny stack of dense layers (logistic regression: one layer; MLP: two) applied
to the shared encoder's vector, so intent and sentiment cost a few microseconds each after
the one encoder pass. Scores are calibrated with one temperature fitted on out-of-fold
predictions (never on the dev split), so "0.8" means right about 80% of the time.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assist.config import AssistError
from assist.nlu.lexical import CharNgrams

__all__ = [
    "Head",
    "fit_logreg",
    "fit_mlp",
    "fit_temperature",
    "expected_calibration_error",
    "softmax",
    "tune_unsure_threshold",
]

HEAD_FILE = "head.safetensors"


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, slots=True, eq=False)
class Head:
    """Dense layers (ReLU between) -> logits, plus optional character n-gram weights added
    to the logits; ``temperature`` divides logits before softmax."""

    labels: tuple[str, ...]
    weights: tuple[np.ndarray, ...]  # each [in, out]
    biases: tuple[np.ndarray, ...]
    temperature: float = 1.0
    lexicon: CharNgrams | None = None
    lexical_weight: np.ndarray | None = None  # [n-grams, labels]

    def logits(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        out = np.asarray(vectors, dtype=np.float32)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            out = out @ w + b
            if i < len(self.weights) - 1:
                out = np.maximum(out, 0.0)
        if self.lexicon is not None:
            if texts is None:
                raise AssistError("This head also reads the text: pass texts with vectors.")
            out = out + np.asarray(self.lexicon.transform(texts) @ self.lexical_weight,
                                   dtype=np.float32)
        return out

    def probs(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        return softmax(self.logits(vectors, texts) / self.temperature)

    def with_temperature(self, temperature: float) -> Head:
        return Head(self.labels, self.weights, self.biases, float(temperature), self.lexicon,
                    self.lexical_weight)

    def save(self, folder: Path) -> Path:
        from safetensors.numpy import save_file

        tensors = {f"w{i}": np.ascontiguousarray(w, dtype=np.float32) for i, w in enumerate(self.weights)}
        tensors |= {f"b{i}": np.ascontiguousarray(b, dtype=np.float32) for i, b in enumerate(self.biases)}
        meta = {"temperature": repr(self.temperature), "labels": "\n".join(self.labels)}
        if self.lexicon is not None:
            tensors["lexical_weight"] = self.lexical_weight.astype(np.float16)
            tensors["lexical_idf"] = self.lexicon.idf.astype(np.float32)
            meta |= {"lexical_vocab": "\n".join(self.lexicon.vocab_list()),
                     "lexical_range": f"{self.lexicon.low},{self.lexicon.high}"}
        path = Path(folder) / HEAD_FILE
        save_file(tensors, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, folder: Path) -> Head:
        from safetensors import safe_open

        path = Path(folder) / HEAD_FILE
        if not path.is_file():
            raise AssistError(f"{folder}: no {HEAD_FILE}; not a trained model folder.")
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata()
            n = sum(1 for k in f.keys() if k[0] == "w" and k[1:].isdigit())
            weights = tuple(f.get_tensor(f"w{i}") for i in range(n))
            biases = tuple(f.get_tensor(f"b{i}") for i in range(n))
            lexicon, lexical = None, None
            if "lexical_weight" in f.keys():
                low, high = (int(v) for v in meta["lexical_range"].split(","))
                vocab = {g: i for i, g in enumerate(meta["lexical_vocab"].split("\n"))}
                lexicon = CharNgrams(vocab, f.get_tensor("lexical_idf"), low, high)
                lexical = f.get_tensor("lexical_weight").astype(np.float32)
        return cls(tuple(meta["labels"].split("\n")), weights, biases, float(meta["temperature"]),
                   lexicon, lexical)


def fit_logreg(x: np.ndarray, y: np.ndarray, labels: Sequence[str], seed: int = 0,
               c: float = 10.0, sample_weight: np.ndarray | None = None,
               texts: Sequence[str] | None = None) -> Head:
    """Multinomial logistic regression (lbfgs); ``y`` holds indices into ``labels``. With
    ``texts``, character n-gram TF-IDF features are learned beside the vectors."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    lexicon = CharNgrams.fit(texts) if texts is not None else None
    features = x if lexicon is None else sp.hstack(
        [sp.csr_matrix(x), lexicon.transform(texts)]).tocsr()
    model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    model.fit(features, y, sample_weight=sample_weight)
    head = _from_sklearn_linear(model, labels)
    if lexicon is None:
        return head
    dim = x.shape[1]
    return Head(head.labels, (head.weights[0][:dim],), head.biases, 1.0, lexicon,
                head.weights[0][dim:])


def _from_sklearn_linear(model, labels: Sequence[str]) -> Head:
    k = len(labels)
    weight = np.zeros((model.coef_.shape[1], k), dtype=np.float32)
    bias = np.full(k, -1e4, dtype=np.float32)  # a label absent from this fold never wins
    if len(model.classes_) == 2 and model.coef_.shape[0] == 1:
        coef = np.vstack([-model.coef_[0] / 2, model.coef_[0] / 2])
        inter = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    else:
        coef, inter = model.coef_, model.intercept_
    for row, cls in enumerate(model.classes_):
        weight[:, int(cls)] = coef[row]
        bias[int(cls)] = inter[row]
    return Head(tuple(labels), (weight,), (bias,))


def fit_mlp(x: np.ndarray, y: np.ndarray, labels: Sequence[str], seed: int = 0,
            hidden: int = 256, alpha: float = 1e-3) -> Head:
    """One hidden ReLU layer (sklearn MLPClassifier, early stopping off: data is small)."""
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=alpha, max_iter=400,
                          random_state=seed)
    model.fit(x, y)
    k = len(labels)
    w_out = np.zeros((hidden, k), dtype=np.float32)
    b_out = np.full(k, -1e4, dtype=np.float32)
    coef_out, inter_out = model.coefs_[1], model.intercepts_[1]
    if len(model.classes_) == 2:  # sklearn keeps one logistic output for two classes
        coef_out = np.hstack([-coef_out / 2, coef_out / 2])
        inter_out = np.array([-inter_out[0] / 2, inter_out[0] / 2])
    for col, cls in enumerate(model.classes_):
        w_out[:, int(cls)] = coef_out[:, col]
        b_out[int(cls)] = inter_out[col]
    weights = (model.coefs_[0].astype(np.float32), w_out)
    return Head(tuple(labels), weights, (model.intercepts_[0].astype(np.float32), b_out))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimizes held-out negative log-likelihood."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        probs = softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by size."""
    if len(y) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(ece)


def tune_unsure_threshold(probs: np.ndarray, y: np.ndarray, target_precision: float = 0.95,
                          floor: float = 0.2, ceiling: float = 0.8) -> float:
    """Lowest confidence above which out-of-fold answers are right ``target_precision`` of
    the time: below it the model says "unsure" instead of guessing."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    for threshold in np.arange(floor, ceiling + 1e-9, 0.01):
        sure = confidence >= threshold
        if not sure.any() or correct[sure].mean() >= target_precision:
            return round(float(threshold), 2)
    return ceiling
