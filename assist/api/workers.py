"""The engine boundary: recognition and NLU behind small Protocols, in-process or in worker processes.

The API talks to ``Recognition`` (per-call streaming recognizers) and ``Classifier`` (text ->
insight) only, so the same hub runs with the engines in the server process (default), in local
worker processes (``api.asr_processes`` / ``api.nlu_processes``), or behind remote deployments
(docs/SCALING.md). Worker processes are spawned (not forked: torch and the whisper thread do not
survive a fork) and load their models once, in the pool initializer. A recognizer holds the
state of one call, so each call is pinned to one recognition process.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

from assist.asr import CallRecognizer, Engines
from assist.asr.events import TranscriptEvent
from assist.audio import AudioChunk
from assist.config import AssistError, Settings

__all__ = ["Recognition", "Classifier", "LocalRecognition", "ProcessRecognition",
           "LocalClassifier", "ProcessClassifier"]

log = logging.getLogger(__name__)
FINISH_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 120.0  # one remote call (a feed, a classify) longer than this is a failure


class Recognition(Protocol):
    def open(self, call_id: str, speakers: tuple[str, ...]) -> None: ...
    def feed(self, call_id: str, chunk: AudioChunk) -> list[TranscriptEvent]: ...
    def drain(self, call_id: str) -> list[TranscriptEvent]: ...  # finals ready between chunks
    # End of audio: close open segments, queue the last utterances, return what is ready now
    # (first-pass finals); ``finish`` then waits for the last Whisper finals.
    def flush(self, call_id: str) -> list[TranscriptEvent]: ...
    def finish(self, call_id: str) -> list[TranscriptEvent]: ...
    def cancel(self, call_id: str) -> None: ...  # drop a call without waiting for its finals
    def close(self) -> None: ...


class Classifier(Protocol):
    def classify(self, text: str) -> Any: ...
    def close(self) -> None: ...


class LocalRecognition:
    """Recognizers in this process on shared engines (one vosk model, one whisper worker)."""

    def __init__(self, engines: Engines, owns_engines: bool = False) -> None:
        self.engines = engines
        self.owns_engines = owns_engines
        self._calls: dict[str, CallRecognizer] = {}
        self._lock = threading.Lock()

    def open(self, call_id: str, speakers: tuple[str, ...]) -> None:
        with self._lock:
            self._calls[call_id] = CallRecognizer(call_id, speakers, self.engines, live=True)

    def feed(self, call_id: str, chunk: AudioChunk) -> list[TranscriptEvent]:
        return self._calls[call_id].feed(chunk)

    def drain(self, call_id: str) -> list[TranscriptEvent]:
        recognizer = self._calls.get(call_id)
        return recognizer.drain() if recognizer else []

    def flush(self, call_id: str) -> list[TranscriptEvent]:
        recognizer = self._calls.get(call_id)
        return recognizer.finish(0.0) if recognizer else []

    def finish(self, call_id: str) -> list[TranscriptEvent]:
        with self._lock:
            recognizer = self._calls.pop(call_id, None)
        return recognizer.finish(FINISH_TIMEOUT_S) if recognizer else []

    def cancel(self, call_id: str) -> None:
        with self._lock:
            self._calls.pop(call_id, None)

    def close(self) -> None:
        if self.owns_engines:
            self.engines.close()


class LocalClassifier:
    def __init__(self, classify) -> None:
        self.classify = classify

    def close(self) -> None:
        pass


# -- worker processes ----------------------------------------------------------------------
# What one worker process holds, set by the pool initializer (a process-local singleton).
_WORKER: dict[str, Any] = {}


def _init_recognition(settings: Settings) -> None:
    from assist.asr import load_engines

    _WORKER["engines"] = load_engines(settings)
    _WORKER["calls"] = {}


def _rec_open(call_id: str, speakers: tuple[str, ...]) -> int:
    _WORKER["calls"][call_id] = CallRecognizer(call_id, speakers, _WORKER["engines"], live=True)
    return os.getpid()


def _rec_feed(call_id: str, chunk: AudioChunk) -> list[TranscriptEvent]:
    return _WORKER["calls"][call_id].feed(chunk)


def _rec_drain(call_id: str) -> list[TranscriptEvent]:
    recognizer = _WORKER["calls"].get(call_id)
    return recognizer.drain() if recognizer else []


def _rec_flush(call_id: str) -> list[TranscriptEvent]:
    recognizer = _WORKER["calls"].get(call_id)
    return recognizer.finish(0.0) if recognizer else []


def _rec_finish(call_id: str) -> list[TranscriptEvent]:
    recognizer = _WORKER["calls"].pop(call_id, None)
    return recognizer.finish(FINISH_TIMEOUT_S) if recognizer else []


def _rec_cancel(call_id: str) -> None:
    _WORKER["calls"].pop(call_id, None)


def _init_nlu(settings: Settings, threads: int) -> None:
    import torch

    from assist.nlu.model import load_nlu

    torch.set_num_threads(threads)
    _WORKER["nlu"] = load_nlu(settings)


def _nlu_classify(text: str) -> Any:
    return _WORKER["nlu"].classify(text)


def _pid(wait_s: float) -> int:
    import time

    time.sleep(wait_s)
    return os.getpid()


def _spawn_pool(workers: int, initializer, initargs: tuple) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)


class ProcessRecognition:
    """Recognition in ``processes`` worker processes; a call stays on the least busy one."""

    def __init__(self, settings: Settings, processes: int) -> None:
        if processes < 1:
            raise AssistError("Recognition needs at least one worker process.")
        self._pools = [_spawn_pool(1, _init_recognition, (settings,)) for _ in range(processes)]
        self._home: dict[str, int] = {}
        self._lock = threading.Lock()

    def pids(self) -> list[int]:
        return [pool.submit(_pid, 0.0).result(CALL_TIMEOUT_S) for pool in self._pools]

    def open(self, call_id: str, speakers: tuple[str, ...]) -> None:
        with self._lock:
            load = [sum(1 for home in self._home.values() if home == i) for i in range(len(self._pools))]
            index = load.index(min(load))
            self._home[call_id] = index
        self._pools[index].submit(_rec_open, call_id, tuple(speakers)).result(CALL_TIMEOUT_S)

    def feed(self, call_id: str, chunk: AudioChunk) -> list[TranscriptEvent]:
        return self._pools[self._home[call_id]].submit(_rec_feed, call_id, chunk).result(CALL_TIMEOUT_S)

    def drain(self, call_id: str) -> list[TranscriptEvent]:
        index = self._home.get(call_id)
        if index is None:
            return []
        return self._pools[index].submit(_rec_drain, call_id).result(CALL_TIMEOUT_S)

    def flush(self, call_id: str) -> list[TranscriptEvent]:
        index = self._home.get(call_id)
        if index is None:
            return []
        return self._pools[index].submit(_rec_flush, call_id).result(CALL_TIMEOUT_S)

    def finish(self, call_id: str) -> list[TranscriptEvent]:
        with self._lock:
            index = self._home.pop(call_id, None)
        if index is None:
            return []
        return self._pools[index].submit(_rec_finish, call_id).result(FINISH_TIMEOUT_S + CALL_TIMEOUT_S)

    def cancel(self, call_id: str) -> None:
        with self._lock:
            index = self._home.pop(call_id, None)
        if index is not None:
            self._pools[index].submit(_rec_cancel, call_id)

    def close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)


class ProcessClassifier:
    """Intent + sentiment in a pool of ``processes`` workers, each with its own encoder copy."""

    def __init__(self, settings: Settings, processes: int, threads_per_process: int = 1) -> None:
        if processes < 1:
            raise AssistError("NLU needs at least one worker process.")
        self.processes = processes
        self._pool = _spawn_pool(processes, _init_nlu, (settings, threads_per_process))

    def warm(self) -> set[int]:
        """Start every worker (models loaded); returns their process ids."""
        futures = [self._pool.submit(_pid, 0.5) for _ in range(self.processes * 2)]
        return {future.result(CALL_TIMEOUT_S) for future in futures}

    def classify(self, text: str) -> Any:
        return self._pool.submit(_nlu_classify, text).result(CALL_TIMEOUT_S)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
