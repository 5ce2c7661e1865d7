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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

W_TEXT = 0.6
W_DATASETS = 0.3
W_THEME = 0.1
MIN_SCORE = 0.15
TOP_K = 10
# Terms kept per project: the strongest TF-IDF terms carry the idea; the tail only makes the
# matrix product denser (and slower) without changing which pairs come first.
TERMS_PER_PROJECT = 40
# A description beyond this many characters adds nothing a person would recognise as the idea.
MAX_TEXT_CHARS = 5_000
# A term in more than this share of projects says nothing about which are alike (with at least
# MAX_DF_MIN_PROJECTS projects; in a handful of projects every shared word matters).
MAX_DF = 0.5
MAX_DF_MIN_PROJECTS = 20
BLOCK_ROWS = 1024

NEIGHBOUR_COLUMNS = ["project", "other", "rank", "score", "text", "datasets", "same_theme"]


@dataclass(frozen=True)
class SimilarityModel:
    """The portfolio's vectors and each project's nearest projects in other organisations."""

    keys: np.ndarray  # project keys, row order
    organisations: np.ndarray  # owner id per row
    themes: np.ndarray  # theme per row
    vectorizer: TfidfVectorizer | None  # None when no project has any usable word
    text: sp.csr_matrix  # rows L2-normalised, float32
    datasets: sp.csr_matrix  # binary, projects x datasets
    dataset_keys: np.ndarray
    neighbours: pd.DataFrame  # NEIGHBOUR_COLUMNS, best first per project

    def row_of(self, key: object) -> int | None:
        """Return the row of a project key, or None."""
        found = np.flatnonzero(self.keys == key)
        return int(found[0]) if found.size else None


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


def _vectorizer(n_projects: int) -> TfidfVectorizer:
    """Return the TF-IDF settings described in the module docstring."""
    return TfidfVectorizer(
        stop_words="english", ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode",
        max_df=MAX_DF if n_projects >= MAX_DF_MIN_PROJECTS else 1.0, dtype=np.float32,
    )


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
    return normalize(matrix, norm="l2", copy=False).astype(np.float32)


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
    themes = projects["theme"].astype(str).to_numpy()
    texts = [project_text(t, d) for t, d in zip(projects["title"], projects["description"],
                                                strict=True)]
    vectorizer: TfidfVectorizer | None = _vectorizer(len(texts))
    try:
        text = _keep_strongest(vectorizer.fit_transform(texts), TERMS_PER_PROJECT)  # type: ignore[union-attr]
    except ValueError:  # no project has a word that is not a stop word: nothing to compare
        vectorizer = None
        text = sp.csr_matrix((len(texts), 0), dtype=np.float32)
    rows = {key: i for i, key in enumerate(keys)}
    datasets, dataset_keys = _dataset_matrix(links, rows, len(keys))
    neighbours = _neighbours(text, datasets, organisations, themes, keys, top_k, block_rows)
    return SimilarityModel(keys=keys, organisations=organisations, themes=themes,
                           vectorizer=vectorizer, text=text, datasets=datasets,
                           dataset_keys=dataset_keys, neighbours=neighbours)


def _combine(text: sp.csr_matrix, shared: sp.csr_matrix, sizes_rows: np.ndarray,
             sizes_all: np.ndarray, themes_rows: np.ndarray, themes_all: np.ndarray
             ) -> tuple[sp.coo_matrix, np.ndarray, np.ndarray]:
    """Return the candidate pairs of a block with their scores, text and dataset parts."""
    # One pass over both products: a shared-dataset count k is an integer and a cosine lies in
    # [0, 1], so text + 2k holds both and each is read back exactly (pairwise lookups in two
    # sparse matrices cost seconds at 100,000 projects).
    candidates = (text.astype(np.float64) + 2.0 * shared.astype(np.float64)).tocoo()
    r, c = candidates.row, candidates.col
    shared_count = np.floor(candidates.data / 2.0 + 1e-9)
    text_part = np.clip(candidates.data - 2.0 * shared_count, 0.0, 1.0)
    union = sizes_rows[r] + sizes_all[c] - shared_count
    jaccard = np.divide(shared_count, union, out=np.zeros_like(union, dtype=np.float64),
                        where=union > 0)
    both_listed = (sizes_rows[r] > 0) & (sizes_all[c] > 0)
    same_theme = themes_rows[r] == themes_all[c]
    total = W_TEXT * text_part + W_DATASETS * jaccard + W_THEME * same_theme
    score = total / (W_TEXT + W_THEME + W_DATASETS * both_listed)
    return candidates, score, np.column_stack([text_part, jaccard, same_theme])


def _neighbours(text: sp.csr_matrix, datasets: sp.csr_matrix, organisations: np.ndarray,
                themes: np.ndarray, keys: np.ndarray, top_k: int, block_rows: int
                ) -> pd.DataFrame:
    """Return each project's top_k candidates in other organisations, one block at a time."""
    n = text.shape[0]
    sizes = np.asarray(datasets.sum(axis=1)).ravel()
    text_t, datasets_t = text.T.tocsr(), datasets.T.tocsr()
    found: list[np.ndarray] = []
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block_text = text[start:stop] @ text_t
        block_shared = datasets[start:stop] @ datasets_t
        pairs, score, parts = _combine(block_text, block_shared, sizes[start:stop], sizes,
                                       themes[start:stop], themes)
        row = pairs.row + start
        keep = ((organisations[row] != organisations[pairs.col]) & (score >= MIN_SCORE))
        if not keep.any():
            continue
        row, col, score, parts = row[keep], pairs.col[keep], score[keep], parts[keep]
        # Best first within each project; ties broken by the other's key for a stable order.
        order = np.lexsort((col, -score, row))
        row, col, score, parts = row[order], col[order], score[order], parts[order]
        first = np.searchsorted(row, row, side="left")
        rank = np.arange(row.size) - first
        top = rank < top_k
        found.append(np.column_stack([row[top], col[top], rank[top] + 1, score[top],
                                      parts[top]]).astype(np.float64))
    if not found:
        return pd.DataFrame({name: pd.Series(dtype=float) for name in NEIGHBOUR_COLUMNS})
    table = np.vstack(found)
    return pd.DataFrame({
        "project": keys[table[:, 0].astype(np.int64)], "other": keys[table[:, 1].astype(np.int64)],
        "rank": table[:, 2].astype(np.int64), "score": table[:, 3], "text": table[:, 4],
        "datasets": table[:, 5], "same_theme": table[:, 6].astype(bool),
    })


def _shared_terms(model: SimilarityModel, left: sp.csr_matrix, right: int,
                  limit: int = 3) -> tuple[str, ...]:
    """Return the terms that contribute most to two texts' cosine, phrases before their words."""
    if model.vectorizer is None:
        return ()
    product = left.multiply(model.text[right]).tocoo()
    if product.nnz == 0:
        return ()
    names = model.vectorizer.get_feature_names_out()
    order = np.lexsort((product.col, -product.data))
    # Among the strongest terms a phrase says more than its words ("fuel poverty", not "fuel").
    strongest = [str(names[index]) for index in product.col[order][: 2 * limit]]
    chosen: list[str] = []
    for term in sorted(strongest, key=lambda t: -len(t.split())):
        if not any(set(term.split()) & set(kept.split()) for kept in chosen):
            chosen.append(term)
    chosen.sort(key=strongest.index)
    chosen = chosen[:limit]
    return tuple(chosen)


def reason(model: SimilarityModel, project: object, other: object) -> Reason:
    """Say why two projects of the model look alike."""
    a, b = model.row_of(project), model.row_of(other)
    if a is None or b is None:
        raise KeyError(project if a is None else other)
    shared = model.datasets[a].multiply(model.datasets[b]).tocoo().col
    return Reason(same_theme=bool(model.themes[a] == model.themes[b]),
                  shared_datasets=tuple(model.dataset_keys[np.sort(shared)]),
                  shared_terms=_shared_terms(model, model.text[a], b))


def draft_vector(model: SimilarityModel, title: str, description: str) -> sp.csr_matrix:
    """Return a draft's TF-IDF vector in the model's vocabulary (empty when none)."""
    if model.vectorizer is None:
        return sp.csr_matrix((1, 0), dtype=np.float32)
    vector = model.vectorizer.transform([project_text(title, description)])
    return _keep_strongest(vector, TERMS_PER_PROJECT)


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
    text = (np.asarray((vector @ model.text.T).todense()).ravel() if vector.nnz
            else np.zeros(n, np.float32))
    wanted = set(datasets)
    columns = np.flatnonzero(np.isin(model.dataset_keys, np.array(sorted(wanted, key=repr),
                                                                  dtype=object)))
    shared = (np.asarray(model.datasets[:, columns].sum(axis=1)).ravel() if len(columns)
              else np.zeros(n))
    sizes = np.asarray(model.datasets.sum(axis=1)).ravel()
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
            shared_terms=_shared_terms(model, vector, int(row)))))
    return found


def pair_score(model: SimilarityModel, project: object, other: object) -> float:
    """Return the score of any two projects of the model by the rule above (even if not top_k)."""
    a, b = model.row_of(project), model.row_of(other)
    if a is None or b is None:
        raise KeyError(project if a is None else other)
    text = float(model.text[a].multiply(model.text[b]).sum()) if model.text.shape[1] else 0.0
    size_a, size_b = model.datasets[a].nnz, model.datasets[b].nnz
    shared = model.datasets[a].multiply(model.datasets[b]).nnz
    both = size_a > 0 and size_b > 0
    jaccard = shared / (size_a + size_b - shared) if both else 0.0
    same_theme = bool(model.themes[a] == model.themes[b])
    return (W_TEXT * min(text, 1.0) + W_DATASETS * jaccard + W_THEME * same_theme) / (
        W_TEXT + W_THEME + W_DATASETS * both)


def groups(pairs: Sequence[tuple[object, object]]) -> list[list[object]]:
    """Return the connected groups of a list of pairs, each sorted, largest group first."""
    parent: dict[object, object] = {}

    def root(x: object) -> object:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb, key=repr)] = min(ra, rb, key=repr)  # type: ignore[type-var]
    members: dict[object, list[object]] = {}
    for x in parent:
        members.setdefault(root(x), []).append(x)
    found = [sorted(group, key=repr) for group in members.values()]
    return sorted(found, key=lambda g: (-len(g), repr(g[0])))
