"""Similar projects: the scoring rule, its invariances, awkward text and the labelled pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import similarity
from scoring.similarity import (
    MIN_SCORE,
    W_DATASETS,
    W_TEXT,
    W_THEME,
    build_model,
    groups,
    pair_score,
    reason,
    similar_to_draft,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "london"
PAIRS = Path(__file__).resolve().parents[1] / "fixtures" / "similar_pairs.csv"


def portfolio(rows: list[tuple], links: list[tuple] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    projects = pd.DataFrame(rows, columns=["key", "organisation", "theme", "title", "description"])
    return projects, pd.DataFrame(list(links), columns=["project", "dataset"])


def london() -> tuple[pd.DataFrame, pd.DataFrame]:
    seed = pd.read_csv(SEEDS / "projects.csv")
    projects = pd.DataFrame({"key": seed["slug"], "organisation": seed["owner"],
                             "theme": seed["theme"], "title": seed["title"],
                             "description": seed["description"].fillna("")})
    links = pd.read_csv(SEEDS / "project_datasets.csv")[["project", "dataset"]]
    return projects, links


RETROFIT = "Target homes for retrofit insulation from EPC certificates and fuel poverty data."


def test_the_same_idea_in_another_organisation_is_suggested_with_its_reasons() -> None:
    projects, links = portfolio(
        [(1, "A", "housing", "Retrofit targeting", RETROFIT),
         (2, "B", "housing", "Borough retrofit targeting", RETROFIT),
         (3, "C", "transport", "Bus lanes", "Bus lane enforcement cameras.")],
        [(1, "epc"), (2, "epc"), (3, "buses")],
    )
    model = build_model(projects, links)
    found = model.neighbours[model.neighbours["project"] == 1]
    assert found["other"].tolist() == [2]
    why = reason(model, 1, 2)
    assert why.same_theme and why.shared_datasets == ("epc",)
    text = why.words({"epc": "EPC certificates"})
    assert text.startswith("same theme; both use EPC certificates; similar description: ")
    assert "retrofit" in text


def test_projects_of_the_same_organisation_are_never_suggested() -> None:
    projects, links = portfolio([(1, "A", "housing", "Retrofit", RETROFIT),
                                 (2, "A", "housing", "Retrofit", RETROFIT)])
    assert build_model(projects, links).neighbours.empty


def test_the_score_follows_the_documented_weights() -> None:
    projects, links = portfolio(
        [(1, "A", "housing", "Retrofit targeting", RETROFIT),
         (2, "B", "housing", "Retrofit targeting", RETROFIT)],
        [(1, "epc"), (1, "fuel"), (2, "epc")],
    )
    model = build_model(projects, links)
    # identical text (cosine 1), Jaccard 1/2, same theme: every part present
    assert pair_score(model, 1, 2) == pytest.approx(
        (W_TEXT + W_DATASETS * 0.5 + W_THEME) / (W_TEXT + W_DATASETS + W_THEME), abs=1e-5)


def test_a_project_with_no_datasets_is_compared_on_text_and_theme() -> None:
    projects, links = portfolio(
        [(1, "A", "housing", "Retrofit targeting", RETROFIT),
         (2, "B", "housing", "Retrofit targeting", RETROFIT)], [(1, "epc")])
    model = build_model(projects, links)
    assert pair_score(model, 1, 2) == pytest.approx(1.0, abs=1e-5)
    assert model.neighbours["score"].iloc[0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("description", [
    "", "   ", "the and of to", "x" * 200_000, "retrofit " * 50_000,
    "Чтобы найти дома, нуждающиеся в утеплении", "住宅の断熱改修の対象を決める",
    "تحديد المنازل التي تحتاج إلى عزل", "😀" * 100,
])
def test_awkward_descriptions_still_give_an_answer(description: str) -> None:
    projects, links = portfolio(
        [(1, "A", "housing", "", description), (2, "B", "housing", "Retrofit", RETROFIT),
         (3, "C", "housing", "", description)])
    model = build_model(projects, links)
    assert set(model.neighbours.columns) >= {"project", "other", "score"}
    for _, row in model.neighbours.iterrows():
        assert 0 <= row["score"] <= 1 + 1e-6
    similar_to_draft(model, title="", description=description, theme="housing")


def test_text_in_another_script_matches_the_same_words() -> None:
    text = "Чтобы найти дома нуждающиеся в утеплении и ремонте"
    projects, links = portfolio([(1, "A", "housing", "Утепление домов", text),
                                 (2, "B", "housing", "Утепление домов", text),
                                 (3, "C", "housing", "Retrofit", RETROFIT)])
    model = build_model(projects, links)
    found = model.neighbours[model.neighbours["project"] == 1]
    assert found["other"].tolist() == [2]


def test_a_portfolio_with_no_words_at_all_suggests_nothing_rather_than_failing() -> None:
    projects, links = portfolio([(1, "A", "housing", "", ""), (2, "B", "housing", "the", "")])
    model = build_model(projects, links)
    assert model.neighbours.empty
    assert similar_to_draft(model, title="Retrofit", description="", theme="housing") == []


def test_a_draft_finds_the_project_it_repeats_and_leaves_out_its_own_organisation() -> None:
    projects, links = portfolio(
        [(1, "A", "housing", "Retrofit targeting", RETROFIT),
         (2, "B", "housing", "Retrofit targeting", RETROFIT),
         (3, "C", "transport", "Bus lanes", "Bus lane enforcement cameras.")])
    model = build_model(projects, links)
    found = similar_to_draft(model, title="Retrofit targeting", description=RETROFIT,
                             theme="housing", organisation="A")
    assert [key for key, _, _ in found] == [2]
    assert "retrofit" in found[0][2].words()


def test_groups_hold_projects_that_are_all_alike() -> None:
    assert groups([(1, 2), (2, 3), (1, 3), (4, 5)]) == [[1, 2, 3], [4, 5]]


def test_groups_do_not_chain_through_a_project_alike_to_two_unrelated_ones() -> None:
    # 2 is like 1 and like 3, but 1 and 3 are unrelated: the best pair wins, the other waits.
    assert groups([(1, 2), (2, 3)]) == [[1, 2]]


WORDS = ["retrofit", "damp", "mould", "homeless", "school", "debt", "fuel", "poverty", "bus",
         "air", "tree", "care", "forecast", "licensing", "index"]
projects_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["housing", "economy"]),
              st.lists(st.sampled_from(WORDS), min_size=0, max_size=8),
              st.sets(st.integers(0, 4), max_size=3)),
    min_size=2, max_size=12,
)


def model_of(rows: list[tuple], order: list[int] | None = None,
             rename: dict | None = None) -> similarity.SimilarityModel:
    order = order if order is not None else list(range(len(rows)))
    rename = rename or {}
    table = [(f"p{i}", rename.get(org, org), theme, " ".join(words[:2]), " ".join(words))
             for i, (org, theme, words, _) in ((i, rows[i]) for i in order)]
    links = [(f"p{i}", f"d{d}") for i in order for d in rows[i][3]]
    projects, frame = portfolio(table, links)
    return build_model(projects, frame, top_k=len(rows))


def as_set(model: similarity.SimilarityModel) -> dict[tuple, float]:
    return {(r.project, r.other): round(r.score, 5) for r in model.neighbours.itertuples()}


@settings(max_examples=30, deadline=None)
@given(projects_strategy)
def test_scores_lie_in_zero_one_and_never_pair_an_organisation_with_itself(rows) -> None:
    model = model_of(rows)
    owner = dict(zip(model.keys, model.organisations, strict=True))
    for r in model.neighbours.itertuples():
        assert MIN_SCORE <= r.score <= 1 + 1e-6
        assert owner[r.project] != owner[r.other]


@settings(max_examples=30, deadline=None)
@given(projects_strategy)
def test_similarity_is_symmetric_and_agrees_with_the_pairwise_rule(rows) -> None:
    model = model_of(rows)
    found = as_set(model)
    for (a, b), score in found.items():
        assert found.get((b, a)) == pytest.approx(score, abs=1e-4)
        assert pair_score(model, a, b) == pytest.approx(score, abs=1e-4)


@settings(max_examples=20, deadline=None)
@given(projects_strategy, st.randoms(use_true_random=False))
def test_order_and_organisation_names_do_not_change_the_suggestions(rows, rnd) -> None:
    order = list(range(len(rows)))
    rnd.shuffle(order)
    renamed = {0: "zeta", 1: "alpha", 2: "mid", 3: "omega"}
    assert as_set(model_of(rows)) == pytest.approx(as_set(model_of(rows, order, renamed)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["housing", "economy"]),
                          st.lists(st.sampled_from(WORDS[:5]), min_size=1, max_size=4),
                          st.sets(st.integers(0, 2), max_size=2)), min_size=2, max_size=30),
       st.integers(1, 4), st.integers(1, 7), st.integers(1, 64))
def test_each_projects_top_k_is_the_start_of_its_whole_list(rows, top_k, block_rows,
                                                             bins) -> None:
    # Few words and datasets, so that many pairs score exactly alike: ties at the k-th place
    # are broken by the other's row, however the candidates were binned before the sort.
    table = [(f"p{i}", org, theme, words[0], " ".join(words))
             for i, (org, theme, words, _) in enumerate(rows)]
    links = [(f"p{i}", f"d{d}") for i, row in enumerate(rows) for d in row[3]]
    projects, frame = portfolio(table, links)
    whole = build_model(projects, frame, top_k=len(rows)).neighbours
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(similarity, "CONTENDER_BINS", bins)
        cut = build_model(projects, frame, top_k=top_k, block_rows=block_rows).neighbours
    expected = whole[whole["rank"] <= top_k].reset_index(drop=True)
    pd.testing.assert_frame_equal(cut.reset_index(drop=True), expected, check_exact=True)


@settings(max_examples=30, deadline=None)
@given(projects_strategy)
def test_every_pair_the_rule_scores_high_enough_is_suggested(rows) -> None:
    model = model_of(rows)
    found = as_set(model)
    for a, org_a in zip(model.keys, model.organisations, strict=True):
        for b, org_b in zip(model.keys, model.organisations, strict=True):
            if org_a != org_b and pair_score(model, a, b) >= MIN_SCORE + 1e-6:
                assert (a, b) in found


def bin_edges(bins: int) -> list[float]:
    """Return the scores at, just under and just over every contender bin's edge, and above 1."""
    scale = bins / (1.0 - MIN_SCORE)
    edges = [MIN_SCORE + k / scale for k in range(bins + 1)]
    near = [float(x) for e in edges for x in (e, np.nextafter(e, 0), np.nextafter(e, 2))]
    return [x for x in [*near, 1.0 + 1e-12, 1.0000001] if x >= MIN_SCORE]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 64), st.data())
def test_contenders_hold_each_rows_top_k_with_scores_on_the_bin_edges(bins, data) -> None:
    rows = data.draw(st.integers(1, 5))
    m = data.draw(st.integers(0, 40))
    row = np.array(data.draw(st.lists(st.integers(0, rows - 1), min_size=m, max_size=m)),
                   dtype=np.int32)
    score = np.array(data.draw(st.lists(st.sampled_from(bin_edges(bins))
                                        | st.floats(MIN_SCORE, 1.0000001),
                                        min_size=m, max_size=m)), dtype=float)
    col = np.array(data.draw(st.permutations(range(m))), dtype=np.int64)
    top_k = data.draw(st.integers(1, 12))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(similarity, "CONTENDER_BINS", bins)
        chosen = similarity._contenders(row, score, rows, top_k)

    def best(among: np.ndarray) -> list[int]:
        ordered = among[np.lexsort((col[among], -score[among], row[among]))]
        place = np.arange(ordered.size) - np.searchsorted(row[ordered], row[ordered])
        return ordered[place < top_k].tolist()

    assert best(chosen) == best(np.arange(m))


def test_labelled_pairs_score_above_unrelated_ones_on_average() -> None:
    projects, links = london()
    model = build_model(projects, links)
    pairs = pd.read_csv(PAIRS)
    assert (pairs["label"] == "same").sum() >= 30 and (pairs["label"] == "different").sum() >= 30
    scores = np.array([pair_score(model, a, b) for a, b in zip(pairs["project_a"],
                                                               pairs["project_b"], strict=True)])
    same = scores[(pairs["label"] == "same").to_numpy()]
    different = scores[(pairs["label"] == "different").to_numpy()]
    assert same.mean() > different.mean() + 0.2
    # and most labelled pairs are actually suggested, in both directions' top ten
    suggested = {(r.project, r.other) for r in model.neighbours.itertuples()}
    labelled_same = pairs[pairs["label"] == "same"]
    found = sum((a, b) in suggested for a, b in zip(labelled_same["project_a"],
                                                    labelled_same["project_b"], strict=True))
    assert found >= 0.8 * len(labelled_same)


def test_suggestions_do_not_depend_on_slugs() -> None:
    projects, links = london()
    code = {slug: f"x{i:04d}" for i, slug in enumerate(projects["key"].sample(frac=1,
                                                                            random_state=3))}
    renamed = projects.assign(key=projects["key"].map(code))
    relinked = links.assign(project=links["project"].map(code))
    before = as_set(build_model(projects, links))
    after = {(a, b): s for (a, b), s in as_set(build_model(renamed, relinked)).items()}
    assert {(code[a], code[b]): s for (a, b), s in before.items()} == after


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-2**40, 2**40), unique=True),
       st.lists(st.one_of(st.integers(-2**40, 2**40), st.text(max_size=3),
                          st.floats(-1e3, 1e3), st.integers(-5, 5).map(float)), max_size=10))
def test_the_row_of_a_sorted_integer_key_is_found_as_a_dict_finds_it(keys, probes) -> None:
    ordered = np.array(sorted(keys), dtype=np.int64)
    rows = similarity.key_rows(ordered)
    expected = {key: row for row, key in enumerate(ordered.tolist())}
    assert isinstance(rows, similarity.KeyRows)
    for probe in [*expected, *probes]:
        assert rows.get(probe) == expected.get(probe)
    assert list(rows) == list(expected) and len(rows) == len(expected)
    if len(keys) > 1:  # keys not in ascending order are kept in a dict
        assert isinstance(similarity.key_rows(ordered[::-1]), dict)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.5, 2.25, 7.0]), max_size=60),
       st.lists(st.integers(0, 79), max_size=20))
def test_the_idf_kept_by_column_is_the_dense_idf(dense, probes) -> None:
    idf = np.array([3.5] * 80, dtype=np.float32)  # the unseen columns' value, most of them
    idf[:len(dense)] = dense
    kept = similarity.ColumnIdf.of(idf)
    columns = np.array(probes + list(range(80)), dtype=np.int32)
    found = kept[columns]
    assert found.dtype == np.float32
    assert found.tolist() == idf[columns].tolist()


@settings(max_examples=30, deadline=None)
@given(projects_strategy)
def test_a_drafts_text_scores_are_the_transposed_products_exactly(rows) -> None:
    # The model keeps the transposed matrix only for the columns projects use; the draft's
    # product with it gives what the whole transposed matrix gave, to the bit.
    model = model_of(rows)
    transposed = model.text.T.tocsr()
    # Drafts with terms no project has, too: those columns are not kept.
    unknown = [f"{text} xylophone quokka zebra" for text in model.texts[:3]]
    for text in [*model.texts, *unknown, "xylophone quokka zebra"]:
        vector = similarity._tfidf(similarity._hasher().transform([text]), model.idf)
        assert similarity._draft_text_scores(model, vector).tolist() == \
            (vector @ transposed).toarray().ravel().tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=30)), st.integers(-40, 40), st.integers(-40, 40))
def test_texts_kept_in_one_buffer_read_back_as_the_strings_they_were(texts, i, j) -> None:
    kept = similarity.Texts(texts)
    assert len(kept) == len(texts) and list(kept) == texts
    assert kept[i:j] == texts[i:j] and kept[::-1] == texts[::-1]
    if -len(texts) <= i < len(texts):
        assert kept[i] == texts[i]
    else:
        with pytest.raises(IndexError):
            kept[i]
