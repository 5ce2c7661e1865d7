"""A data-sharing agreement's standing on a date, as the link readiness factor reads it.

DESIGN.md, "Data-sharing agreements": a recorded status and the agreement's dates give the
word the readiness factor scores (`scoring.readiness.AGREEMENT_SCORES`) on a chosen day.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


def standing(status: str, signed_on: date | None, expires_on: date | None,
             as_of: date) -> str:
    """Return the agreement word on a day: expired after its expiry day, drafting before signing.

    terminated -> expired; signed with `expires_on < as_of` -> expired; signed with
    `signed_on > as_of` -> drafting; otherwise the recorded status (drafting, signed, expired).
    """
    if status == "terminated":
        return "expired"
    if status == "signed":
        if expires_on is not None and expires_on < as_of:
            return "expired"
        if signed_on is not None and signed_on > as_of:
            return "drafting"
    return status


def standing_of(status: pd.Series, signed_on: pd.Series, expires_on: pd.Series,
                as_of: date) -> pd.Series:
    """Return `standing` for each row of aligned columns (dates as datetime64 or objects)."""
    day = np.datetime64(as_of, "D")
    signed_d = pd.to_datetime(signed_on, errors="coerce").to_numpy("datetime64[D]")
    expires_d = pd.to_datetime(expires_on, errors="coerce").to_numpy("datetime64[D]")
    words = status.astype(object).to_numpy(copy=True)
    is_signed = words == "signed"
    # NaT compares False either way, so a missing date never moves the word.
    lapsed = is_signed & (expires_d < day)
    pending = is_signed & ~lapsed & (signed_d > day)
    words[lapsed] = "expired"
    words[pending] = "drafting"
    words[words == "terminated"] = "expired"
    return pd.Series(words, index=status.index, dtype=object)
