"""The similarity model's terms and their hashed columns, without importing scikit-learn.

The model is built with scikit-learn's HashingVectorizer (`scoring/similarity.py`); a page that
names the terms two projects share, or compares a draft with the portfolio, needs only its
analyser and its hash, and importing scikit-learn for them added 47 MB and 557 modules to a web
worker. These functions give the same terms and columns (tests/scoring/test_terms.py checks
them against scikit-learn's).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from pathlib import Path

# scikit-learn's default token_pattern: words of two or more word characters.
TOKEN = re.compile(r"(?u)\b\w\w+\b")
MASK = 0xFFFFFFFF


@functools.cache
def stop_words() -> frozenset[str]:
    """Return scikit-learn's English stop words, read from its file without importing it."""
    spec = importlib.util.find_spec("sklearn")  # a top-level name: found, not imported
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("scikit-learn is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "feature_extraction" / \
        "_stop_words.py"
    module_spec = importlib.util.spec_from_file_location("_portfolio_stop_words", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"no stop words at {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(module.ENGLISH_STOP_WORDS)


def _strip_accents(text: str) -> str:
    """Fold accents as scikit-learn's strip_accents="unicode" does."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def analyse(text: str) -> list[str]:
    """Return a text's terms: lower-cased, accents folded, stop words out, words then pairs."""
    words = [w for w in TOKEN.findall(_strip_accents(text.lower())) if w not in stop_words()]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _rotl(value: int, shift: int) -> int:
    """Rotate a 32-bit value left."""
    return ((value << shift) | (value >> (32 - shift))) & MASK


def murmurhash3_32(data: bytes, seed: int = 0) -> int:
    """Return MurmurHash3 (x86, 32 bits) of some bytes as a signed integer."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & MASK
    whole = len(data) - len(data) % 4
    for start in range(0, whole, 4):
        k = int.from_bytes(data[start:start + 4], "little")
        k = (_rotl((k * c1) & MASK, 15) * c2) & MASK
        h = (_rotl(h ^ k, 13) * 5 + 0xE6546B64) & MASK
    tail = data[whole:]
    if tail:
        k = int.from_bytes(tail, "little")
        h ^= (_rotl((k * c1) & MASK, 15) * c2) & MASK
    h ^= len(data)
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & MASK
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & MASK
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def column(term: str, n_features: int) -> int:
    """Return the column HashingVectorizer puts a term in (alternate_sign=False)."""
    h = murmurhash3_32(term.encode("utf-8"))
    # abs(-2**31) overflows a 32-bit integer: scikit-learn defines its column this way.
    return (2**31 - 1 - (n_features - 1)) % n_features if h == -(2**31) else abs(h) % n_features
