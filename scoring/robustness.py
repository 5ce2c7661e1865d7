"""SMAA-style robustness of the ranking to the choice of weights (Monte Carlo over weights).

`order_robustness` (what the backlog shows) re-orders the portfolio under each weight sample
by the dependency-aware order's own rule (`scoring.ranking`) and records each project's rank in
its view; `robustness` is the older figure over the plain composite ranking, kept as the
benchmark's baseline.

Fragile rule: a project is `fragile` when its 90% rank interval is wide,
rank_p95 - rank_p05 > max(5, 0.2 * n) with n the number of projects ranked (in its view, for
`order_robustness`), or when its place in the top k is a toss-up, 0.2 <= p_top_k <= 0.8.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scoring import blas  # noqa: F401  (one BLAS thread for the process: see scoring.blas)
from scoring.assessors import Disputes, disputes
from scoring.composite import criterion_matrix, presence
from scoring.criteria import Criterion
from scoring.ranking import OrderStructure
from scoring.weights import WeightProfile, effective_weights, weight_arrays

FRAGILE_MIN_WIDTH = 5.0
FRAGILE_WIDTH_SHARE = 0.2
FRAGILE_P_LOW = 0.2
FRAGILE_P_HIGH = 0.8
# Bytes of float32 per intermediate array per chunk of samples: bounds memory while keeping
# the calls few. At 100,000 projects 32 MB held 15 MB more at the ranking's peak than 16 MB,
# for the same CPU time (measured).
CHUNK_BYTES = 16 * 2**20
# Bytes per sample and project that one chunk of the order's re-ordering holds at once.
ORDER_BYTES_PER_CELL = 40
# Threads that rebuild the order under the weight samples, once there are this many
# (sample, project) cells: below it, starting threads costs more than it saves.
ROBUSTNESS_THREADS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_MIN_CELLS = 2_000_000
# Bytes of ranks partitioned at once for the order statistics.
ORDER_STATISTICS_BYTES = 8 * 2**20
# Weight samples for the order's robustness: all of them up to this many projects in the order,
# then fewer, SAMPLE_BUDGET / n (rounded down to a multiple of 50), but never below MIN_SAMPLES.
FULL_SAMPLES_UP_TO = 20_000
SAMPLE_BUDGET = 20_000_000
MIN_SAMPLES = 200
# With assessment uncertainty, the samples fall into this many blocks, each with one draw of
# the disputed assessments (fewer blocks when there are fewer samples).
LEVEL_BLOCKS = 50
_LOW32 = np.uint64(0xFFFFFFFF)


def sample_weights(
    weights: np.ndarray, samples: int, concentration: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw (samples, criteria) weights from Dirichlet(concentration * w); zero weights stay 0."""
    live = weights > 0
    out = np.zeros((samples, weights.size))
    if live.any():
        out[:, live] = rng.dirichlet(concentration * weights[live], size=samples)
    return out


def _ranking_keys(composite: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Pack (composite, tiebreak) into uint64 keys that sort ascending in ranking order."""
    # Composites are >= +0.0 (sums of non-negative products), and the bits of non-negative
    # IEEE-754 floats order like the floats, so inverting them gives a descending key.
    keys = np.invert(composite.view(np.uint32)).astype(np.uint64)
    keys <<= np.uint64(32)
    keys |= tiebreak
    return keys


def _sample_composites(
    x_complete: np.ndarray,
    x_partial: np.ndarray,
    known_partial: np.ndarray,
    live_partial: np.ndarray,
    v: np.ndarray,
    member: np.ndarray,
) -> np.ndarray:
    """Return composites on [0, 1] as (samples, projects), complete projects first."""
    n_complete = x_complete.shape[1]
    out = np.empty((v.shape[0], n_complete + x_partial.shape[1]), dtype=np.float32)
    # Projects with every weighted criterion: sum_c v_c x_c, one product for all samples.
    np.matmul(v, x_complete, out=out[:, :n_complete])
    if x_partial.shape[1]:
        k = member.shape[1]
        dim_weight = v @ member  # (samples, k): sampled dimension weights W_d
        # Block d of the rows holds dimension d's criterion weights, zero elsewhere, so one
        # product gives every dimension's present weight D_d; the same blocks scaled by W_d
        # give W_d * N_d, N_d being the dimension's weighted sum.
        blocks = member.T[:, None, :] * v[None, :, :]
        present_weight = (blocks.reshape(k * v.shape[0], -1) @ known_partial).reshape(
            k, v.shape[0], -1
        )
        scaled = blocks * dim_weight.T[:, :, None]
        weighted = (scaled.reshape(k * v.shape[0], -1) @ x_partial).reshape(k, v.shape[0], -1)
        # A dimension the project lacks has N_d = D_d = 0, so it adds 0 here without a mask.
        np.maximum(present_weight, np.finfo(np.float32).tiny, out=present_weight)
        np.divide(weighted, present_weight, out=weighted)
        acc = weighted.sum(axis=0)
        total = dim_weight @ live_partial  # (samples, projects): weight of present dimensions
        # total is 0 only if every present dimension's sampled weight underflowed: score 0.
        np.divide(acc, total, out=acc, where=total > 0)
        out[:, n_complete:] = acc
    return out


def robustness(
    values: pd.DataFrame,
    criteria: Sequence[Criterion],
    profile: WeightProfile,
    top_k: int,
    samples: int = 1000,
    concentration: float = 50.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Estimate rank stability over weights sampled ~ Dirichlet(concentration * e) around a profile.

    e are the profile's effective criterion weights (sum 1); `concentration` (default 50) sets
    the spread: each sampled weight has mean e_c and variance e_c (1 - e_c) / (concentration +
    1). Each sample scores every project by the composite rule (renormalised over present
    values) and ranks them (ties by index). Returns p_top_k (share of samples ranked <= top_k),
    rank_p05, rank_p95, rank_median (linear percentiles of the rank) and `fragile` (module
    docstring). Unscored projects are not ranked: p_top_k 0, ranks NaN, not fragile.
    Deterministic for a given seed.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if not np.isfinite(concentration) or concentration <= 0:
        raise ValueError(f"concentration must be positive, got {concentration}")

    x_all = criterion_matrix(values, criteria)
    w, dim_w, member = weight_arrays(criteria, profile)
    e = effective_weights(criteria, profile).to_numpy()
    present_all = ~np.isnan(x_all)
    dim_present_all, scored = presence(
        present_all.astype(np.float64) @ (member * w[:, None]), dim_w
    )

    rows = np.flatnonzero(scored)
    n = rows.size
    result = pd.DataFrame(
        {
            "p_top_k": np.zeros(len(values)),
            "rank_p05": np.full(len(values), np.nan),
            "rank_p95": np.full(len(values), np.nan),
            "rank_median": np.full(len(values), np.nan),
            "fragile": np.zeros(len(values), dtype=bool),
        },
        index=values.index,
    )
    if n == 0:
        return result

    present = present_all[rows]
    complete = present[:, e > 0].all(axis=1)
    # Complete projects first, so each chunk fills two contiguous column blocks.
    layout = np.concatenate([np.flatnonzero(complete), np.flatnonzero(~complete)])
    rows, present = rows[layout], present[layout]
    n_complete = int(complete.sum())
    x = np.where(present, x_all[rows], 0.0).astype(np.float32)
    x_complete = np.ascontiguousarray(x[:n_complete].T)
    x_partial = np.ascontiguousarray(x[n_complete:].T)
    known_partial = np.ascontiguousarray(present[n_complete:].T.astype(np.float32))
    live_partial = np.ascontiguousarray(dim_present_all[rows[n_complete:]].T.astype(np.float32))
    # Position of each column's project in index order: the tie-break, as rank_by_composite.
    index_rank = np.empty(n, dtype=np.uint64)
    index_rank[values.index[rows].argsort(kind="stable")] = np.arange(n, dtype=np.uint64)

    rng = np.random.default_rng(seed)
    v_all = sample_weights(e, samples, concentration, rng).astype(np.float32)
    member32 = member.astype(np.float32)
    chunk = int(min(samples, max(1, CHUNK_BYTES // (4 * n * member.shape[1]))))
    # The key's low half is the flat position (sample row in chunk, index position) that the
    # project's rank is written to, so the sorted keys scatter straight into `ranks`.
    tiebreak = index_rank[None, :] + np.arange(chunk, dtype=np.uint64)[:, None] * np.uint64(n)
    places = np.tile(np.arange(1, n + 1, dtype=np.int32), chunk)
    # ranks[s, j]: rank in sample s of the project in index position j.
    ranks = np.empty((samples, n), dtype=np.int32)
    for start in range(0, samples, chunk):  # chunks of samples bound memory, not a loop per sample
        stop = min(start + chunk, samples)
        composite = _sample_composites(
            x_complete, x_partial, known_partial, live_partial, v_all[start:stop], member32
        )
        keys = _ranking_keys(composite, tiebreak[: stop - start])
        keys.sort(axis=1)
        keys &= _LOW32
        ranks[start:stop].reshape(-1)[keys.reshape(-1)] = places[: (stop - start) * n]

    p05, median, p95 = _percentiles(ranks, (5.0, 50.0, 95.0))
    p_top = (ranks <= top_k).mean(axis=0)
    width_limit = max(FRAGILE_MIN_WIDTH, FRAGILE_WIDTH_SHARE * n)
    fragile = ((p95 - p05) > width_limit) | ((p_top >= FRAGILE_P_LOW) & (p_top <= FRAGILE_P_HIGH))

    # Back from index positions to the projects' own rows.
    at = np.empty(n, dtype=np.intp)
    at[index_rank.astype(np.intp)] = rows
    for column, figures in (
        ("p_top_k", p_top),
        ("rank_p05", p05),
        ("rank_p95", p95),
        ("rank_median", median),
        ("fragile", fragile),
    ):
        result.iloc[at, result.columns.get_loc(column)] = figures
    return result


def _percentiles(ranks: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Return linear-interpolated percentiles over samples (axis 0), as numpy's default method."""
    # Sorting each project's ranks once (contiguous rows) beats np.percentile along axis 0.
    by_project = np.sort(np.ascontiguousarray(ranks.T), axis=1)
    last = by_project.shape[1] - 1
    out = []
    for q in qs:
        position = q / 100.0 * last
        low = int(np.floor(position))
        high = min(low + 1, last)
        fraction = position - low
        lower = by_project[:, low].astype(np.float64)
        out.append(lower + fraction * (by_project[:, high] - lower))
    return out


def order_samples(requested: int, projects: int) -> int:
    """Return the weight samples used for `projects` in the order (module constants)."""
    if requested <= 0 or projects <= FULL_SAMPLES_UP_TO:
        return requested
    scaled = (SAMPLE_BUDGET // projects) // 50 * 50
    return min(requested, max(MIN_SAMPLES, scaled))


def order_robustness(
    values: pd.DataFrame,
    criteria: Sequence[Criterion],
    profile: WeightProfile,
    structure: OrderStructure,
    override: np.ndarray,
    top_k: int,
    samples: int = 1000,
    concentration: float = 50.0,
    seed: int = 0,
    assessments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Estimate how each project's rank in its view moves when the weights are uncertain.

    With `assessments` (every assessor's current level: slug, criterion, level) the levels
    are uncertain too where assessors disagree: the samples fall into LEVEL_BLOCKS blocks of
    consecutive samples, and each block scores with one draw of the disputed cells
    (`scoring.assessors`), drawn after the weights from the same generator. Where every
    assessor agrees the result is exactly the one without `assessments`.

    Weights are sampled as in `robustness` (Dirichlet(concentration * e), same seed, same
    draws). Under each sample every project without an override gets its sampled composite
    (renormalised over present values); an override keeps its value; the dependency-aware
    order is rebuilt by its own rule (effective priority through the dependencies, mandatory
    first, then generation and slug), and each project's rank is its place among the projects
    of its view. `values` holds the criterion values of the structure's projects (indexed by
    slug), `override` their override in points (NaN where none). Returns, indexed by slug:
    p_top_k (share of samples with rank <= top_k), rank_p05 and rank_p95 (the order statistics
    at positions floor(0.05 (S-1)) and ceil(0.95 (S-1)) of the S sorted ranks, 0-based: an
    integer interval), rank_median and fragile (module docstring).
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if not np.isfinite(concentration) or concentration <= 0:
        raise ValueError(f"concentration must be positive, got {concentration}")
    slugs = pd.Index(structure.slugs)
    n = len(slugs)
    result = pd.DataFrame({"p_top_k": np.zeros(n), "rank_p05": np.full(n, np.nan),
                           "rank_p95": np.full(n, np.nan), "rank_median": np.full(n, np.nan),
                           "fragile": np.zeros(n, dtype=bool)}, index=slugs)
    if n == 0:
        return result

    x_all = criterion_matrix(values.reindex(slugs), criteria)
    w, dim_w, member = weight_arrays(criteria, profile)
    e = effective_weights(criteria, profile).to_numpy()
    present_all = ~np.isnan(x_all)
    dim_present_all, scored = presence(
        present_all.astype(np.float64) @ (member * w[:, None]), dim_w
    )
    override = np.asarray(override, dtype=np.float64)
    fixed_node = ~np.isnan(override)
    sampled = np.flatnonzero(scored & ~fixed_node)
    present = present_all[sampled]
    complete = present[:, e > 0].all(axis=1)
    layout = np.concatenate([np.flatnonzero(complete), np.flatnonzero(~complete)])
    sampled, present = sampled[layout], present[layout]
    n_complete = int(complete.sum())
    x = np.where(present, x_all[sampled], 0.0).astype(np.float32)
    x_complete = np.ascontiguousarray(x[:n_complete].T)
    x_partial = np.ascontiguousarray(x[n_complete:].T)
    known_partial = np.ascontiguousarray(present[n_complete:].T.astype(np.float32))
    live_partial = np.ascontiguousarray(
        dim_present_all[sampled[n_complete:]].T.astype(np.float32))

    # Columns in tie-break order, so a key's low half is its flat (sample, column) position.
    column = structure.tiebreak
    pushes = [(column[src], column[rec], starts) for src, rec, starts in structure.pushes]
    fixed = np.full(n, -np.inf, dtype=np.float32)
    fixed[column[fixed_node]] = override[fixed_node] / 100.0  # composites are on [0, 1] here
    sampled_columns = column[sampled]
    mandatory = np.zeros(n, dtype=np.float32)
    mandatory[column] = np.where(structure.effective_mandatory, 4.0, 0.0)
    committed = np.zeros(n, dtype=bool)
    committed[column] = structure.committed

    rng = np.random.default_rng(seed)
    v_all = sample_weights(e, samples, concentration, rng).astype(np.float32)
    member32 = member.astype(np.float32)
    threads = ROBUSTNESS_THREADS if samples * n >= PARALLEL_MIN_CELLS else 1
    # The chunk depends on n alone: a float32 product's rounding depends on how many samples
    # it takes at once, and the figures must not depend on the machine's cores.
    chunk = int(min(samples, max(1, CHUNK_BYTES // (ORDER_BYTES_PER_CELL * n))))
    disputed = disputes(assessments, list(slugs[sampled]), criteria)
    spans = _sample_spans(samples, chunk, bool(disputed))
    # The draws in the order the samples use them (the generator's calls as one pass makes).
    draws = _block_draws(spans, disputed, rng)
    order = _Reorder(n, chunk, fixed, sampled_columns, pushes, mandatory, committed,
                     known_partial, live_partial, member32, v_all)
    ranks = np.empty((samples, n), dtype=np.int32)
    workers = min(len(spans), threads)
    # Each product runs on one BLAS thread (scoring.blas); the spans' threads share the cores.
    if workers <= 1:
        order.rank_spans(spans, draws, ranks, disputed, x_complete, x_partial, n_complete)
    else:
        # NumPy lets go of the GIL in these loops: the spans split across threads, each with
        # its own copy of the values where disputed levels are drawn into them.
        with ThreadPoolExecutor(workers) as pool:
            done = [pool.submit(order.rank_spans, spans[w::workers], draws[w::workers], ranks,
                                disputed, x_complete.copy() if disputed else x_complete,
                                x_partial.copy() if disputed else x_partial, n_complete)
                    for w in range(workers)]
            for future in done:
                future.result()

    low, median, high = _order_statistics(ranks)
    p_top = (ranks <= top_k).mean(axis=0)
    view_size = np.where(committed, committed.sum(), n - committed.sum())
    width_limit = np.maximum(FRAGILE_MIN_WIDTH, FRAGILE_WIDTH_SHARE * view_size)
    fragile = ((high - low) > width_limit) | ((p_top >= FRAGILE_P_LOW) & (p_top <= FRAGILE_P_HIGH))
    for name, figures in (("p_top_k", p_top), ("rank_p05", low), ("rank_p95", high),
                          ("rank_median", median), ("fragile", fragile)):
        result[name] = figures[column]  # back from columns to the structure's nodes
    return result


@dataclass(frozen=True)
class _Reorder:
    """What rebuilding the order under a span of weight samples needs (order_robustness)."""

    n: int
    chunk: int
    fixed: np.ndarray
    sampled_columns: np.ndarray
    pushes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    mandatory: np.ndarray
    committed: np.ndarray
    known_partial: np.ndarray
    live_partial: np.ndarray
    member: np.ndarray
    v_all: np.ndarray

    def rank_spans(self, spans: list[tuple[int, int, bool]], draws: list[Any], ranks: np.ndarray,
                   disputed: Disputes, x_complete: np.ndarray, x_partial: np.ndarray,
                   n_complete: int) -> None:
        """Write each span's ranks into its rows of `ranks`, its block's levels drawn first."""
        offsets = np.arange(self.chunk, dtype=np.uint64)[:, None] * np.uint64(self.n)
        flat_columns = np.arange(self.n, dtype=np.uint64)[None, :] + offsets
        applied = None
        for (start, stop, _), draw in zip(spans, draws, strict=True):
            if draw is not None and draw is not applied:
                _apply_draw(draw, x_complete, x_partial, n_complete)
                applied = draw
            self._rank(start, stop, x_complete, x_partial, offsets, flat_columns,
                       ranks[start:stop])

    def _rank(self, start: int, stop: int, x_complete: np.ndarray, x_partial: np.ndarray,
              offsets: np.ndarray, flat_columns: np.ndarray, out: np.ndarray) -> None:
        """Write each project's rank in its view under samples start..stop into out (rows, n)."""
        rows, n = stop - start, self.n
        prio = np.empty((rows, n), dtype=np.float32)
        prio[:] = self.fixed
        if self.sampled_columns.size:
            prio[:, self.sampled_columns] = _sample_composites(
                x_complete, x_partial, self.known_partial, self.live_partial,
                self.v_all[start:stop], self.member)
        for src, rec, starts in self.pushes:
            best = np.maximum.reduceat(prio[:, src], starts, axis=1)
            np.maximum(prio[:, rec], best, out=best)
            prio[:, rec] = best
        # The order's key as one positive float: mandatory (+4) above scored (1 + priority on
        # [0, 1]) above unscored (0.5); inverted bits sort it descending.
        level = np.where(np.isneginf(prio), np.float32(0.5), prio + np.float32(1.0))
        level += self.mandatory
        keys = np.invert(level.view(np.uint32)).astype(np.uint64)
        keys <<= np.uint64(32)
        keys |= flat_columns[:rows]
        keys.sort(axis=1)
        keys &= _LOW32
        flat = keys.astype(np.int64)
        along = self.committed[flat - offsets[:rows].astype(np.int64)]
        place = np.where(along, np.cumsum(along, axis=1, dtype=np.int32),
                         np.cumsum(~along, axis=1, dtype=np.int32))
        out.reshape(-1)[flat.reshape(-1)] = place.reshape(-1)  # rows of `ranks`: a view


def _block_draws(spans: list[tuple[int, int, bool]], disputed: Disputes,
                 rng: np.random.Generator) -> list[Any]:
    """Return, per span, its block's draw of the disputed levels (None without disputes)."""
    draws: list[Any] = []
    current = None
    for _start, _stop, block_starts in spans:
        if block_starts:
            current = disputed.draw(rng)
        draws.append(current)
    return draws


def _sample_spans(samples: int, chunk: int,
                  blocks: bool) -> list[tuple[int, int, bool]]:
    """Return (start, stop, starts a block) for each chunk of samples; chunks never span blocks."""
    edges = ([samples * b // min(LEVEL_BLOCKS, samples) for b in range(min(LEVEL_BLOCKS,
              samples) + 1)] if blocks else [0, samples])
    spans = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        for start in range(low, high, chunk):
            spans.append((start, min(start + chunk, high), start == low and blocks))
    return spans


def _apply_draw(draw: list[tuple[np.ndarray, np.ndarray]], x_complete: np.ndarray,
                x_partial: np.ndarray, n_complete: int) -> None:
    """Write one draw of the disputed levels into the (criteria, projects) value arrays."""
    for positions, drawn in draw:
        row, column = positions[:, 0], positions[:, 1]
        complete = row < n_complete
        x_complete[column[complete], row[complete]] = drawn[complete]
        x_partial[column[~complete], row[~complete] - n_complete] = drawn[~complete]


def _order_statistics(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the low (5%), median and high (95%) ranks over samples (axis 0), as integers."""
    last = ranks.shape[0] - 1
    low_at, high_at = int(np.floor(0.05 * last)), int(np.ceil(0.95 * last))
    middle = (int(np.floor(0.5 * last)), int(np.ceil(0.5 * last)))
    wanted = sorted({low_at, *middle, high_at})
    n = ranks.shape[1]
    low, high, median = np.empty(n), np.empty(n), np.empty(n)
    # A block of projects at a time, partitioned rather than sorted: the same order statistics
    # without two whole copies of the (samples, projects) ranks (130 MB at 100,000 projects).
    step = max(1, ORDER_STATISTICS_BYTES // max(1, 4 * ranks.shape[0]))
    for start in range(0, n, step):
        block = np.partition(ranks[:, start : start + step], wanted, axis=0)
        low[start : start + step] = block[low_at]
        high[start : start + step] = block[high_at]
        median[start : start + step] = 0.5 * (block[middle[0]] + block[middle[1]])
    return low, median, high
