"""The similarity model's terms and columns without scikit-learn agree with scikit-learn's."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction._stop_words import ENGLISH_STOP_WORDS
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32 as sklearn_murmurhash3_32

from scoring import similarity, terms

ROOT = Path(__file__).resolve().parents[2]
# Words a portfolio writes, stop words among them, with accents, digits and other scripts.
WORDS = st.sampled_from(["fuel", "poverty", "the", "and", "café", "naïve", "Ærø", "EPC",
                         "retrofit", "of", "2026", "x", "données", "Straße", "ﬁle", "лондон",
                         "a1", "__", "co-op", "It's", "ŉ", "İstanbul"])
TEXTS = st.one_of(st.lists(WORDS, max_size=12).map(" ".join),
                  st.text(max_size=60))


def sklearn_analyser():
    """Return the analyser of the hasher the model is built with."""
    return similarity._hasher().build_analyzer()


def test_the_stop_words_are_scikit_learns() -> None:
    assert terms.stop_words() == ENGLISH_STOP_WORDS


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_a_texts_terms_are_those_scikit_learn_cuts(text: str) -> None:
    assert terms.analyse(text) == sklearn_analyser()(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=2**32 - 1))
def test_the_hash_is_murmurhash3(data: bytes, seed: int) -> None:
    assert terms.murmurhash3_32(data, seed) == sklearn_murmurhash3_32(data, seed=seed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=20)), min_size=1, max_size=8))
def test_a_terms_column_is_the_one_the_hasher_fills(words: list[str]) -> None:
    hasher = HashingVectorizer(analyzer=lambda t: t, n_features=similarity.N_FEATURES,
                               alternate_sign=False, norm=None)
    for word in words:
        assert [terms.column(word, similarity.N_FEATURES)] == \
            hasher.transform([[word]]).indices.tolist()


def test_naming_the_shared_terms_does_not_import_scikit_learn(tmp_path: Path) -> None:
    # A web worker is handed a built model; naming why two projects are alike must not load
    # scikit-learn (47 MB) into it. Found by the worker-memory benchmark.
    projects = pd.DataFrame({
        "key": [1, 2, 3], "organisation": [10, 20, 30], "theme": ["housing"] * 3,
        "title": ["Fuel poverty retrofit", "Fuel poverty retrofit map", "Café licensing"],
        "description": ["EPC data for damp homes", "EPC data, damp homes", "Pavement cafés"],
    })
    model = similarity.build_model(projects, pd.DataFrame(columns=["project", "dataset"]))
    expected = similarity.reason(model, 1, 2).shared_terms
    assert expected
    kept = tmp_path / "model.pickle"
    kept.write_bytes(pickle.dumps(model))
    script = (
        "import pickle, sys\n"
        "from scoring import similarity\n"
        f"model = pickle.loads(open({str(kept)!r}, 'rb').read())\n"
        "print(repr(similarity.reason(model, 1, 2).shared_terms))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    shared, loaded = done.stdout.splitlines()
    assert shared == repr(expected)
    assert loaded == "[]"
