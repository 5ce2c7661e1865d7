"""Similar projects in other organisations, from text, shared datasets and theme (DESIGN.md).

For two projects a and b in different organisations:

    text(a, b)     = cosine of their TF-IDF vectors (title twice, then description; English stop
                     words removed, unigrams and bigrams, sublinear term frequency), in [0, 1]
    datasets(a, b) = |D_a & D_b| / |D_a | D_b|, Jaccard over the datasets each uses or produces
    theme(a, b)    = 1 when both have the same theme, else 0

    score(a, b) = (W_TEXT * text + W_DATASETS * datasets + W_THEME * theme) / (sum of the weights
                  of the parts present), in [0, 1]

The dataset part is present only when both projects list datasets: a project that has listed
none yet (a draft being registered) is compared on text and theme alone rather than scored as if
it shared nothing. Theme alone never makes a pair: a pair is a candidate only when its texts share
a term or the projects share a dataset, and a suggestion needs score >= MIN_SCORE.

Projects are identified by opaque keys and organisations by opaque ids: nothing here reads a
slug or an organisation's name, so renaming either changes no suggestion.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scoring import terms

if TYPE_CHECKING:
    # scikit-learn is imported where a model is built (80 MB a web worker would carry unused).
    from sklearn.feature_extraction.text import HashingVectorizer

W_TEXT = 0.6
W_DATASETS = 0.3
W_THEME = 0.1
MIN_SCORE = 0.15
# A text cosine below this is one incidental word in common: not by itself a reason to compare.
TEXT_FLOOR = 0.03
TOP_K = 10
# Terms kept per project: the strongest TF-IDF terms carry the idea; the tail only makes the
# matrix product denser (and slower) without changing which pairs come first.
TERMS_PER_PROJECT = 40
# A description beyond this many characters adds nothing a person would recognise as the idea.
MAX_TEXT_CHARS = 5_000
# A term in more than half the projects, or in more than MAX_DF_PROJECTS of them, says nothing
# about which are alike, and such terms make the matrix product quadratic; below
# MAX_DF_MIN_PROJECTS projects every shared word counts.
MAX_DF = 0.5
MAX_DF_PROJECTS = 500
MAX_DF_MIN_PROJECTS = 20
# Terms are hashed into this many columns (no vocabulary to build: four times faster than
# TfidfVectorizer at 20,000 projects, measured); collisions are rare at this width.
N_FEATURES = 2**21
BLOCK_ROWS = 1024
# Score bins that pick each project's contenders for its top_k before they are sorted.
CONTENDER_BINS = 64

NEIGHBOUR_COLUMNS = ["project", "other", "rank", "score", "text", "datasets", "same_theme"]


class KeyRows(Mapping[object, int]):
    """The row of each project key, found by binary search in the sorted integer keys.

    A dict of 100,000 NumPy integers to rows held 11 MB in every web worker keeping a model.
    """

    def __init__(self, keys: np.ndarray) -> None:
        self._keys = keys

    def __getitem__(self, key: object) -> int:
        if isinstance(key, (float, np.floating)) and float(key).is_integer():
            key = int(key)  # a dict finds 5 under 5.0 too
        if isinstance(key, (int, np.integer)):
            row = int(np.searchsorted(self._keys, key))
            if row < len(self._keys) and self._keys[row] == key:
                return row
        raise KeyError(key)

    def __iter__(self) -> Iterator[object]:
        return iter(self._keys.tolist())

    def __len__(self) -> int:
        return len(self._keys)


def key_rows(keys: np.ndarray) -> Mapping[object, int]:
    """Return the row of each key: searched when keys are ascending integers, else a dict."""
    if keys.dtype.kind in "iu" and bool(np.all(keys[1:] > keys[:-1])):
        return KeyRows(keys)
    return {key: i for i, key in enumerate(keys)}


class Texts(Sequence[str]):
    """Texts kept as one UTF-8 buffer and where each starts (100,000 strings held 11 MB)."""

    def __init__(self, texts: Iterable[str]) -> None:
        encoded = [text.encode("utf-8") for text in texts]
        self._starts = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(text) for text in encoded], out=self._starts[1:])
        self._buffer = b"".join(encoded)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        return self._buffer[self._starts[index]:self._starts[index + 1]].decode("utf-8")

    def __len__(self) -> int:
        return len(self._starts) - 1


@dataclass(frozen=True)
class ColumnIdf:
    """The IDF of each hashed column, kept for the columns a project's term fills.

    Every other column (about 2 million of them) has the IDF of a term no project uses, so a
    dense array held 8 MB to say one number.
    """

    columns: np.ndarray  # ascending, the columns whose IDF is not `unseen`
    values: np.ndarray  # float32, their IDF
    unseen: np.float32

    @classmethod
    def of(cls, idf: np.ndarray) -> ColumnIdf:
        """Keep a dense IDF array as its most common value and the columns that differ."""
        values, counts = np.unique(idf, return_counts=True)
        unseen = values[np.argmax(counts)]
        columns = np.flatnonzero(idf != unseen).astype(np.int32)
        return cls(columns=columns, values=idf[columns], unseen=unseen)

    def __getitem__(self, columns: np.ndarray) -> np.ndarray:
        if not len(self.columns):
            return np.full(len(columns), self.unseen, dtype=np.float32)
        place = np.minimum(np.searchsorted(self.columns, columns), len(self.columns) - 1)
        return np.where(self.columns[place] == columns, self.values[place],
                        self.unseen).astype(np.float32)


@dataclass(frozen=True)
class SimilarityModel:
    """The portfolio's vectors and each project's nearest projects in other organisations."""

    keys: np.ndarray  # project keys, row order
    organisations: np.ndarray  # owner id per row
    themes: np.ndarray  # theme per row (one object per theme, shared by its rows)
    texts: Sequence[str]  # the text compared, per row, to name the terms two projects share
    idf: ColumnIdf  # inverse document frequency per hashed column (0: a term too common)
    text: sp.csr_matrix  # TF-IDF rows, L2-normalised, float32
    datasets: sp.csr_matrix  # binary, projects x datasets
    dataset_keys: np.ndarray
    neighbours: pd.DataFrame  # NEIGHBOUR_COLUMNS, best first per project

    rows: Mapping[object, int]  # row of each project key
    dataset_sizes: np.ndarray  # datasets per project
    text_columns: np.ndarray  # ascending, the hashed columns some project's text has
    text_t: sp.csr_matrix  # text transposed, a row per text_columns, for a draft's product

    def row_of(self, key: object) -> int | None:
        """Return the row of a project key, or None."""
        return self.rows.get(key)


@dataclass(frozen=True)
class Reason:
    """Why two projects look alike, in parts a person can check."""

    same_theme: bool
    shared_datasets: tuple[object, ...]
    shared_terms: tuple[str, ...]

    def words(self, dataset_titles: Mapping[object, str] | None = None) -> str:
        """Say the reason in words: "same theme; both use EPC; similar description: retrofit"."""
        parts = []
        if self.same_theme:
            parts.append("same theme")
        if self.shared_datasets:
            titles = dataset_titles or {}
            names = [titles.get(key, str(key)) for key in self.shared_datasets[:3]]
            more = len(self.shared_datasets) - len(names)
            parts.append("both use " + ", ".join(names) + (f" and {more} more" if more else ""))
        if self.shared_terms:
            parts.append("similar description: " + ", ".join(self.shared_terms))
        return "; ".join(parts)


def project_text(title: str | None, description: str | None) -> str:
    """Return the text compared: the title twice (it names the idea), then the description."""
    title = (title or "").strip()
    description = (description or "").strip()[:MAX_TEXT_CHARS]
    return f"{title}\n{title}\n{description}"


@functools.cache
def _hasher() -> HashingVectorizer:
    """Return the term counter: English stop words out, unigrams and bigrams, accents folded."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(stop_words="english", ngram_range=(1, 2), strip_accents="unicode",
                             alternate_sign=False, norm=None, n_features=N_FEATURES,
                             dtype=np.float32)


def _fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Return smoothed IDF per column, ln((1 + n) / (1 + df)) + 1, and 0 for too common terms."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    if n >= MAX_DF_MIN_PROJECTS:
        idf[df > min(MAX_DF * n, MAX_DF_PROJECTS)] = 0.0
    return idf


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray | ColumnIdf) -> sp.csr_matrix:
    """Return sublinear TF-IDF rows, (1 + ln tf) * idf, strongest terms kept, L2-normalised."""
    counts = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    counts.eliminate_zeros()
    return _keep_strongest(counts, TERMS_PER_PROJECT)


def _keep_strongest(matrix: sp.csr_matrix, per_row: int) -> sp.csr_matrix:
    """Keep each row's `per_row` largest entries, then L2-normalise the rows."""
    matrix = sp.csr_matrix(matrix)
    counts = np.diff(matrix.indptr)
    if counts.size and counts.max() > per_row:
        rows = np.repeat(np.arange(matrix.shape[0]), counts)
        order = np.lexsort((-matrix.data, rows))
        starts = np.repeat(matrix.indptr[:-1], counts)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size) - starts
        keep = rank < per_row
        matrix = sp.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])),
                               shape=matrix.shape)
    if matrix.shape[0] == 0:
        return matrix.astype(np.float32)  # no projects: scikit-learn refuses to normalise none
    if matrix.shape[0] == 1:
        return _normalised_row(matrix)  # a draft: no scikit-learn in a web worker for it
    from sklearn.preprocessing import normalize

    return normalize(matrix, norm="l2", copy=False).astype(np.float32)


def _normalised_row(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """L2-normalise a one-row float32 matrix with the figures scikit-learn's normalize gives.

    Its loop adds each float32 square in double precision, in order, takes the root and
    divides each value by it in double precision, then stores it as float32.
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    total = 0.0
    for square in (matrix.data * matrix.data).tolist():
        total += square
    if total != 0.0:
        matrix.data = (matrix.data.astype(np.float64) / math.sqrt(total)).astype(np.float32)
    return matrix


def _term_counts(text: str) -> sp.csr_matrix:
    """Count a text's terms in the hasher's columns, as HashingVectorizer.transform does."""
    columns = np.array([terms.column(term, N_FEATURES) for term in terms.analyse(text)],
                       dtype=np.int32)
    counts = sp.csr_matrix((np.ones(len(columns), dtype=np.float32),
                            (np.zeros(len(columns), dtype=np.int32), columns)),
                           shape=(1, N_FEATURES), dtype=np.float32)
    counts.sum_duplicates()
    return counts


def _dataset_matrix(links: pd.DataFrame, rows: Mapping[object, int],
                    n_projects: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Return the binary projects x datasets matrix (uses and produces alike) and its columns."""
    if links.empty:
        return sp.csr_matrix((n_projects, 0), dtype=np.float32), np.array([], dtype=object)
    pairs = links[["project", "dataset"]].drop_duplicates()
    pairs = pairs[pairs["project"].isin(rows.keys())]
    codes, dataset_keys = pd.factorize(pairs["dataset"], sort=True)
    row = pairs["project"].map(rows).to_numpy(dtype=np.int64)
    matrix = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32), (row, codes)),
                           shape=(n_projects, len(dataset_keys)))
    return matrix, np.asarray(dataset_keys, dtype=object)


def build_model(projects: pd.DataFrame, links: pd.DataFrame, *, top_k: int = TOP_K,
                block_rows: int = BLOCK_ROWS) -> SimilarityModel:
    """Vectorise the portfolio and find each project's top_k similar projects elsewhere.

    `projects` has columns key, organisation, theme, title, description; `links` has project
    (a key) and dataset. One sparse matrix product per block of rows, so memory stays bounded.
    """
    keys = projects["key"].to_numpy()
    organisations = projects["organisation"].to_numpy()
    # One object per theme, not per project: a model handed to a web worker (pickled) keeps
    # them shared (7 MB to under 1 MB at 100,000 projects).
    theme_codes, theme_names = pd.factorize(projects["theme"].astype(str))
    themes = np.asarray(theme_names, dtype=object)[theme_codes]
    texts = tuple(project_text(t, d) for t, d in zip(projects["title"],
                                                      projects["description"], strict=True))
    # The term counter reads the first text to size its output: with none (an empty portfolio,
    # as a new deployment's is) it raised StopIteration, and every similar-projects call 500.
    counts = (_hasher().transform(texts) if texts
              else sp.csr_matrix((0, N_FEATURES), dtype=np.float32))
    idf = _fit_idf(counts)
    text = _tfidf(counts, idf)
    datasets, dataset_keys = _dataset_matrix(links, {key: i for i, key in enumerate(keys)},
                                             len(keys))
    # Integer codes: comparing arrays of Python strings per candidate pair was most of the work.
    neighbours = _neighbours(text, datasets, pd.factorize(organisations)[0], theme_codes, keys,
                             top_k, block_rows)
    text_columns = np.unique(text.indices).astype(np.int32)
    compact = sp.csr_matrix((text.data, np.searchsorted(text_columns, text.indices),
                             text.indptr), shape=(text.shape[0], len(text_columns)))
    return SimilarityModel(keys=keys, organisations=organisations, themes=themes,
                           texts=Texts(texts),
                           idf=ColumnIdf.of(idf), text=text, datasets=datasets,
                           dataset_keys=dataset_keys, neighbours=neighbours, rows=key_rows(keys),
                           dataset_sizes=np.asarray(datasets.sum(axis=1)).ravel(),
                           text_columns=text_columns, text_t=compact.T.tocsr())


def _combine(text: sp.csr_matrix, shared: sp.csr_matrix, start: int, sizes: np.ndarray,
             themes: np.ndarray, organisations: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Return a block's pairs worth suggesting: rows, columns and scores, their positions in
    the block's candidates, and the three parts of every candidate (text, datasets, theme).
    """
    # A cosine under TEXT_FLOOR is one incidental word in common; dropping those first keeps
    # the work below proportional to the pairs that can matter.
    text.data[text.data < TEXT_FLOOR] = 0.0
    text.eliminate_zeros()
    # One pass over both products: a shared-dataset count k is an integer and a cosine lies in
    # [0, 1], so text + 2k holds both and each is read back exactly (pairwise lookups in two
    # sparse matrices cost seconds at 100,000 projects).
    candidates = (text + 2.0 * shared).tocsr()
    per_row = np.diff(candidates.indptr)

    def own(figures: np.ndarray) -> np.ndarray:
        """Return the block's rows' figures repeated along their candidates (not gathered)."""
        return np.repeat(figures[start:start + len(per_row)], per_row)

    r = own(np.arange(len(sizes), dtype=np.int32))
    c = candidates.indices
    value = candidates.data.astype(np.float64)
    size_r, size_c = own(sizes), sizes[c]
    shared_count = np.floor(value / 2.0 + 1e-6)
    text_part = np.clip(value - 2.0 * shared_count, 0.0, 1.0)
    union = size_r + size_c - shared_count
    jaccard = np.divide(shared_count, union, out=np.zeros_like(union), where=union > 0)
    both_listed = (size_r > 0) & (size_c > 0)
    same_theme = own(themes) == themes[c]
    total = W_TEXT * text_part + W_DATASETS * jaccard + W_THEME * same_theme
    score = total / (W_TEXT + W_THEME + W_DATASETS * both_listed)
    keep = score >= MIN_SCORE
    keep &= own(organisations) != organisations[c]
    where = np.flatnonzero(keep)
    return r[where], c[where], score[where], where, (text_part, jaccard, same_theme)


def _contenders(local_row: np.ndarray, score: np.ndarray, rows: int, top_k: int) -> np.ndarray:
    """Return the positions of the candidates that can be among their row's top_k.

    Scores fall into CONTENDER_BINS bins, the bin a non-decreasing function of the score; a
    row keeps its candidates in the bins down to the highest bin with top_k or more at or above
    it. Whatever lies lower scores below at least top_k others, so sorting what is kept gives
    the same top_k in the same order, and the sort takes a few candidates a row, not hundreds.
    """
    scale = CONTENDER_BINS / (1.0 - MIN_SCORE)
    bins = np.minimum(((score - MIN_SCORE) * scale).astype(np.int64), CONTENDER_BINS - 1)
    counts = np.bincount(local_row * CONTENDER_BINS + bins,
                         minlength=rows * CONTENDER_BINS).reshape(rows, CONTENDER_BINS)
    at_or_above = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]
    enough = at_or_above >= top_k
    lowest = np.where(enough.any(axis=1),
                      CONTENDER_BINS - 1 - np.argmax(enough[:, ::-1], axis=1), 0)
    return np.flatnonzero(bins >= lowest[local_row])


def _neighbours(text: sp.csr_matrix, datasets: sp.csr_matrix, organisations: np.ndarray,
                themes: np.ndarray, keys: np.ndarray, top_k: int, block_rows: int
                ) -> pd.DataFrame:
    """Return each project's top_k candidates in other organisations, one block at a time."""
    n = text.shape[0]
    sizes = np.asarray(datasets.sum(axis=1)).ravel()
    text_t, datasets_t = text.T.tocsr(), datasets.T.tocsr()
    found: list[tuple[np.ndarray, ...]] = []
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        row, col, score, where, parts = _combine(text[start:stop] @ text_t,
                                                 datasets[start:stop] @ datasets_t, start,
                                                 sizes, themes, organisations)
        if not row.size:
            continue
        chosen = _contenders(row - start, score, stop - start, top_k)
        row, col, score, where = row[chosen], col[chosen], score[chosen], where[chosen]
        # Best first within each project; ties broken by the other's row for a stable order.
        order = np.lexsort((col, -score, row))
        row, col, score, where = row[order], col[order], score[order], where[order]
        rank = np.arange(row.size) - np.searchsorted(row, row, side="left")
        top = rank < top_k
        found.append((row[top], col[top], rank[top] + 1, score[top],
                      *(part[where[top]] for part in parts)))
    if not found:
        return pd.DataFrame({name: pd.Series(dtype=float) for name in NEIGHBOUR_COLUMNS})
    row, col, rank, score, text_part, jaccard, same_theme = (
        np.concatenate(column) for column in zip(*found, strict=True))
    return pd.DataFrame({
        "project": keys[row], "other": keys[col], "rank": rank.astype(np.int64),
        "score": score, "text": text_part, "datasets": jaccard,
        "same_theme": same_theme.astype(bool),
    })


def _shared_terms(model: SimilarityModel, left_text: str, left: sp.csr_matrix, right: int,
                  limit: int = 3) -> tuple[str, ...]:
    """Return the terms that add most to two texts' cosine, phrases before their own words."""
    # The hasher's own analyser and hash, without scikit-learn: a page names these terms.
    shared = sorted(set(terms.analyse(left_text)) & set(terms.analyse(model.texts[right])))
    if not shared:
        return ()
    columns = np.array([terms.column(term, N_FEATURES) for term in shared], dtype=np.int32)
    contribution = (left[:, columns].toarray().ravel()
                    * model.text[right][:, columns].toarray().ravel())
    order = [i for i in np.lexsort((columns, -contribution)) if contribution[i] > 0]
    # Among the strongest terms a phrase says more than its words ("fuel poverty", not "fuel").
    strongest = [shared[i] for i in order[: 2 * limit]]
    chosen: list[str] = []
    for term in sorted(strongest, key=lambda t: -len(t.split())):
        if not any(set(term.split()) & set(kept.split()) for kept in chosen):
            chosen.append(term)
    chosen.sort(key=strongest.index)
    return tuple(chosen[:limit])


def reason(model: SimilarityModel, project: object, other: object) -> Reason:
    """Say why two projects of the model look alike."""
    a, b = model.row_of(project), model.row_of(other)
    if a is None or b is None:
        raise KeyError(project if a is None else other)
    shared = model.datasets[a].multiply(model.datasets[b]).tocoo().col
    return Reason(same_theme=bool(model.themes[a] == model.themes[b]),
                  shared_datasets=tuple(model.dataset_keys[np.sort(shared)]),
                  shared_terms=_shared_terms(model, model.texts[a], model.text[a], b))


def draft_vector(model: SimilarityModel, title: str, description: str) -> sp.csr_matrix:
    """Return a draft's TF-IDF vector in the model's vocabulary (empty when none)."""
    # Counted and weighted without scikit-learn, which a web worker would load for this alone.
    return _tfidf(_term_counts(project_text(title, description)), model.idf)


def _draft_text_scores(model: SimilarityModel, vector: sp.csr_matrix) -> np.ndarray:
    """Return each project's text cosine with a draft's one-row vector.

    The draft's row times the transposed matrix, kept only for the columns projects use (a
    row per hashed column took 8 MB of offsets): the same sparse product as before, so the
    same float32 sums in the same order. Multiplying each project's row by the draft instead
    went through every stored value (17-40 ms at 100,000 projects, against 0.3 ms).
    """
    columns = model.text_columns
    if not len(columns):
        return np.zeros(model.text.shape[0], dtype=np.float32)
    place = np.minimum(np.searchsorted(columns, vector.indices), len(columns) - 1)
    used = columns[place] == vector.indices  # a term no project has adds nothing
    draft = sp.csr_matrix((vector.data[used], place[used], [0, int(used.sum())]),
                          shape=(1, len(columns)), dtype=np.float32)
    return (draft @ model.text_t).toarray().ravel()


def similar_to_draft(model: SimilarityModel, *, title: str, description: str,
                     theme: str | None = None, organisation: object = None,
                     datasets: Iterable[object] = (), top_k: int = 5
                     ) -> list[tuple[object, float, Reason]]:
    """Return the projects most like a draft not yet registered, best first, with reasons.

    The draft is scored by the same rule as stored projects; projects of its own organisation
    are left out.
    """
    vector = draft_vector(model, title, description)
    n = len(model.keys)
    text = _draft_text_scores(model, vector) if vector.nnz else np.zeros(n, np.float32)
    text[text < TEXT_FLOOR] = 0.0
    wanted = set(datasets)
    columns = np.flatnonzero(np.isin(model.dataset_keys, np.array(sorted(wanted, key=repr),
                                                                  dtype=object)))
    shared = (np.asarray(model.datasets[:, columns].sum(axis=1)).ravel() if len(columns)
              else np.zeros(n))
    sizes = model.dataset_sizes
    union = len(wanted) + sizes - shared
    jaccard = np.divide(shared, union, out=np.zeros(n), where=union > 0)
    both = (sizes > 0) & bool(wanted)
    same_theme = model.themes == theme if theme else np.zeros(n, dtype=bool)
    score = (W_TEXT * np.minimum(text, 1.0) + W_DATASETS * jaccard + W_THEME * same_theme) / (
        W_TEXT + W_THEME + W_DATASETS * both)
    candidate = ((text > 0) | (shared > 0)) & (score >= MIN_SCORE)
    if organisation is not None:
        candidate &= model.organisations != organisation
    rows = np.flatnonzero(candidate)
    rows = rows[np.lexsort((rows, -score[rows]))][:top_k]
    found = []
    for row in rows:
        shared_keys = tuple(k for k in model.dataset_keys[model.datasets[row].indices]
                            if k in wanted)
        found.append((model.keys[row], float(score[row]), Reason(
            same_theme=bool(same_theme[row]), shared_datasets=tuple(sorted(shared_keys)),
            shared_terms=_shared_terms(model, project_text(title, description), vector,
                                       int(row)))))
    return found


def pair_score(model: SimilarityModel, project: object, other: object) -> float:
    """Return the score of any two projects of the model by the rule above (even if not top_k)."""
    a, b = model.row_of(project), model.row_of(other)
    if a is None or b is None:
        raise KeyError(project if a is None else other)
    text = float(model.text[a].multiply(model.text[b]).sum())
    text = text if text >= TEXT_FLOOR else 0.0
    size_a, size_b = model.datasets[a].nnz, model.datasets[b].nnz
    shared = model.datasets[a].multiply(model.datasets[b]).nnz
    both = size_a > 0 and size_b > 0
    jaccard = shared / (size_a + size_b - shared) if both else 0.0
    same_theme = bool(model.themes[a] == model.themes[b])
    return (W_TEXT * min(text, 1.0) + W_DATASETS * jaccard + W_THEME * same_theme) / (
        W_TEXT + W_THEME + W_DATASETS * both)


def groups(pairs: Sequence[tuple[object, object]]) -> list[list[object]]:
    """Return groups in which every two projects are a pair (complete linkage), largest first.

    Pairs come best first; two groups merge only when every project of one pairs with every
    project of the other, so "demand forecast" cannot chain temporary accommodation to social
    care through a project that shares a phrase with each.
    """
    linked = {(a, b) for a, b in pairs} | {(b, a) for a, b in pairs}
    group_of: dict[object, list[object]] = {}
    for a, b in pairs:
        left = group_of.setdefault(a, [a])
        right = group_of.setdefault(b, [b])
        if left is right or not all((x, y) in linked for x in left for y in right):
            continue
        left.extend(right)
        for member in right:
            group_of[member] = left
    unique = {id(group): group for group in group_of.values() if len(group) > 1}
    found = [sorted(group, key=repr) for group in unique.values()]
    return sorted(found, key=lambda g: (-len(g), repr(g[0])))
