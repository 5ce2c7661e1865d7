"""The similarity model's terms and columns without scikit-learn agree with scikit-learn's."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction._stop_words import ENGLISH_STOP_WORDS
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32 as sklearn_murmurhash3_32

from scoring import similarity, terms

ROOT = Path(__file__).resolve().parents[2]
# Words a portfolio writes, stop words among them, with accents, digits and other scripts.
WORDS = st.sampled_from(["fuel", "poverty", "the", "and", "café", "naïve", "Ærø", "EPC",
                         "retrofit", "of", "2026", "x", "données", "Straße", "ﬁle", "лондон",
                         "a1", "__", "co-op", "It's", "ŉ", "İstanbul"])
TEXTS = st.one_of(st.lists(WORDS, max_size=12).map(" ".join),
                  st.text(max_size=60))


# Two projects alike (EPC data on damp homes) and one apart.
ALIKE = pd.DataFrame({
    "key": [1, 2, 3], "organisation": [10, 20, 30], "theme": ["housing"] * 3,
    "title": ["Fuel poverty retrofit", "Fuel poverty retrofit map", "Café licensing"],
    "description": ["EPC data for damp homes", "EPC data, damp homes", "Pavement cafés"],
})


def without_scikit_learn(model: similarity.SimilarityModel, call: str, tmp_path: Path) -> str:
    """Return repr(call) evaluated on an unpickled model in a fresh interpreter (as a web
    worker is handed one), asserting that no scikit-learn module was imported on the way."""
    kept = tmp_path / "model.pickle"
    kept.write_bytes(pickle.dumps(model))
    script = (
        "import pickle, sys\n"
        "from scoring import similarity\n"
        f"model = pickle.loads(open({str(kept)!r}, 'rb').read())\n"
        f"print(repr({call}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    found, loaded = done.stdout.splitlines()
    assert loaded == "[]"
    return found


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
    model = similarity.build_model(ALIKE, pd.DataFrame(columns=["project", "dataset"]))
    expected = similarity.reason(model, 1, 2).shared_terms
    assert expected
    call = "similarity.reason(model, 1, 2).shared_terms"
    assert without_scikit_learn(model, call, tmp_path) == repr(expected)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_a_drafts_terms_are_counted_in_the_columns_the_hasher_counts_them(text: str) -> None:
    ours, theirs = similarity._term_counts(text), similarity._hasher().transform([text])
    assert ours.dtype == theirs.dtype == np.float32
    assert ours.indptr.tolist() == theirs.indptr.tolist()
    assert ours.indices.tolist() == theirs.indices.tolist()
    assert ours.data.tolist() == theirs.data.tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, width=32), max_size=40))
def test_a_row_is_normalised_to_the_figures_scikit_learn_gives(values: list[float]) -> None:
    row = sp.csr_matrix((np.array(values, dtype=np.float32),
                         (np.zeros(len(values), dtype=np.int32),
                          np.arange(len(values), dtype=np.int32))), shape=(1, 64))
    expected = normalize(row.copy(), norm="l2").astype(np.float32)
    assert similarity._normalised_row(row).data.tolist() == expected.data.tolist()


def test_a_draft_is_compared_without_importing_scikit_learn(tmp_path: Path) -> None:
    model = similarity.build_model(ALIKE, pd.DataFrame(columns=["project", "dataset"]))
    title, description = "Retrofit of damp homes", "Fuel poverty and EPC data: café owners"
    # What the draft's vector was when scikit-learn counted and normalised it.
    counts = sp.csr_matrix(similarity._hasher().transform([
        similarity.project_text(title, description)]), dtype=np.float32, copy=True)
    counts.data = (1.0 + np.log(counts.data)) * model.idf[counts.indices]
    counts.eliminate_zeros()
    expected_vector = normalize(counts, norm="l2").astype(np.float32)
    vector = similarity.draft_vector(model, title, description)
    assert vector.indices.tolist() == expected_vector.indices.tolist()
    assert vector.data.tolist() == expected_vector.data.tolist()
    expected = similarity.similar_to_draft(model, title=title, description=description,
                                           organisation=10)
    assert expected
    call = (f"similarity.similar_to_draft(model, title={title!r}, "
            f"description={description!r}, organisation=10)")
    assert without_scikit_learn(model, call, tmp_path) == repr(expected)
