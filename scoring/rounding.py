"""Rounding for display: a total and its parts rounded so the parts add up to the total shown.

Rule (DESIGN.md, "Rounding"): at d decimals, with u = 10**d,
- the total shown is ``round(total * u) / u`` (numpy's round, half to even, on the float
  product);
- each part starts at ``floor(part * u)`` units; the units still missing to reach the total
  shown, k, go one each to the parts with the largest remainders ``part * u - floor(part * u)``
  (ties to the part listed first); should k exceed the number of parts, every part first gets
  ``k // m`` units (and a negative k takes units away the same way);
- missing parts (NaN) stay missing and never receive a unit.
So the parts shown add up exactly to the total shown, and each moves by less than one unit when
the total is their own sum (the largest-remainder, or Hamilton, method).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Places of the score and its contributions in pages, the API and the CLI (stored at 6).
SCORE_DECIMALS = 2


def shown_score(score: float | None) -> float | None:
    """Return a score as pages, the API and the CLI show it: round(score * 100) / 100."""
    return None if score is None else float(round_total(score, SCORE_DECIMALS))


def round_total(total: np.ndarray | float, decimals: int) -> np.ndarray:
    """Return a total as shown at `decimals` places: round(total * 10**d) / 10**d."""
    unit = 10.0**decimals
    return np.round(np.asarray(total, dtype=np.float64) * unit) / unit


def round_each(values: np.ndarray, decimals: int) -> np.ndarray:
    """Return each value as Python's ``round(value, decimals)`` gives it, in one array call.

    Python rounds the exact product ``value * 10**decimals`` half to even. Rounding the float
    product can bring it onto a half (halves are floats) but never past one, so only a product
    that is exactly a half needs the exact one: its error, found without loss (Dekker's
    product), says which way the exact product lies. Values too large for that are rounded
    one by one with ``round``. For 0 to 22 places, where 10**decimals is itself a float.
    """
    if not 0 <= decimals <= 22:
        raise ValueError(f"round_each rounds to 0-22 places, not {decimals}")
    x = np.asarray(values, dtype=np.float64)
    unit = 10.0**decimals
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = x * unit
        nearest = np.rint(scaled)
        on_half = np.abs(scaled - np.trunc(scaled)) == 0.5
        error = _product_error(x, unit, scaled)
        nearest = np.where(on_half & (error > 0), np.ceil(scaled), nearest)
        nearest = np.where(on_half & (error < 0), np.floor(scaled), nearest)
        shown = nearest / unit
        large = np.isfinite(x) & ~(np.abs(scaled) < 2.0**51)
    for i in np.flatnonzero(large):
        shown.flat[i] = round(float(x.flat[i]), decimals)
    return shown


def _product_error(a: np.ndarray, b: float, product: np.ndarray) -> np.ndarray:
    """Return a * b - product exactly, for the float product of a and b (Dekker, Veltkamp)."""
    def halves(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = 134217729.0 * v  # 2**27 + 1
        high = c - (c - v)
        return high, v - high

    a_high, a_low = halves(a)
    b_high, b_low = halves(np.asarray(b, dtype=np.float64))
    return ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low


def largest_remainder(parts: np.ndarray, totals: np.ndarray, decimals: int) -> np.ndarray:
    """Round parts (rows x parts, NaN missing) so each row adds up to its total as shown.

    Returns an array of the same shape; rows whose total is NaN, or that have no part, come
    back unchanged apart from rounding each part on its own.
    """
    x = np.atleast_2d(np.asarray(parts, dtype=np.float64))
    unit = 10.0**decimals
    present = ~np.isnan(x)
    scaled = np.where(present, x * unit, 0.0)
    floors = np.floor(scaled)
    remainder = np.where(present, scaled - floors, -np.inf)
    target = np.round(np.asarray(totals, dtype=np.float64).reshape(-1) * unit)
    count = present.sum(axis=1)
    live = ~np.isnan(target) & (count > 0)
    missing = np.where(live, target - floors.sum(axis=1), 0.0)
    per_part, extra = np.divmod(missing, np.maximum(count, 1))
    # Place of each part when the row's parts are sorted by remainder, largest first.
    by_remainder = np.argsort(-remainder, axis=1, kind="stable")
    place = np.empty_like(by_remainder)
    np.put_along_axis(place, by_remainder, np.arange(x.shape[1])[None, :], axis=1)
    units = floors + per_part[:, None] + (place < extra[:, None])
    units = np.where(live[:, None], units, np.round(scaled))
    return np.where(present, units / unit, np.nan).reshape(np.shape(parts))


def round_parts(parts: Mapping[str, float], total: float | None,
                decimals: int) -> dict[str, float]:
    """Return named parts rounded by `largest_remainder` to add up to `total` as shown."""
    if not parts:
        return {}
    keys = list(parts)
    values = np.array([parts[k] for k in keys], dtype=np.float64)
    shown = largest_remainder(values[None, :], np.array([np.nan if total is None else total]),
                              decimals)[0]
    return {k: float(v) for k, v in zip(keys, shown.tolist(), strict=True)}


__all__ = ["largest_remainder", "round_each", "round_parts", "round_total"]
