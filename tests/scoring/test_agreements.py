"""An agreement's standing on a day follows its status and dates (DESIGN.md)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from scoring.agreements import standing, standing_of

STATUSES = ("drafting", "signed", "expired", "terminated")
DAYS = st.one_of(st.none(), st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)))


def test_a_signed_agreement_counts_up_to_and_including_its_expiry_day() -> None:
    expiry = date(2027, 3, 31)
    assert standing("signed", date(2025, 4, 1), expiry, expiry) == "signed"
    assert standing("signed", date(2025, 4, 1), expiry, expiry + timedelta(days=1)) == "expired"


def test_a_signed_agreement_is_drafting_before_its_signing_day() -> None:
    assert standing("signed", date(2027, 1, 10), None, date(2027, 1, 9)) == "drafting"


def test_terminated_counts_as_expired_and_other_statuses_stand() -> None:
    assert standing("terminated", None, None, date(2027, 1, 1)) == "expired"
    assert standing("drafting", None, date(2020, 1, 1), date(2027, 1, 1)) == "drafting"
    assert standing("expired", None, None, date(2020, 1, 1)) == "expired"


@given(st.lists(st.tuples(st.sampled_from(STATUSES), DAYS, DAYS), min_size=1, max_size=30),
       st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)))
def test_the_column_rule_equals_the_row_rule(rows: list, as_of: date) -> None:
    frame = pd.DataFrame(rows, columns=["status", "signed_on", "expires_on"])
    got = standing_of(frame["status"], frame["signed_on"], frame["expires_on"], as_of)
    assert list(got) == [standing(s, a, b, as_of) for s, a, b in rows]
