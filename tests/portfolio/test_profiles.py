"""Weight profiles: stale weights are refused, never silently undone; names stay reachable."""

from __future__ import annotations

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Conflict, Invalid
from portfolio.services import profiles as profile_service
from tests.racing import race

WRITERS = 4
EDITS_EACH = 6


def save(db: Database, impact: float, *, version: int | None = None) -> dict:
    """Read the profile, then set its impact weight from the version read (or the one given)."""
    with db.read() as session:
        current = profile_service.get_profile(session=session, name="CDO default")
    with db.write() as session:
        return profile_service.set_weights(
            session=session, actor=SYSTEM, name="CDO default",
            dimension_weights=current["weights"]["dimension"] | {"impact": impact},
            criterion_weights=current["weights"]["criterion"],
            version=current["version"] if version is None else version)


def test_weights_set_from_an_older_version_are_refused_naming_what_changed(
    london: Database,
) -> None:
    first = save(london, 1.0)
    with pytest.raises(Conflict) as refused:
        save(london, 0.1, version=first["version"] - 1)
    assert refused.value.current["version"] == first["version"]
    assert "dimension:impact" in refused.value.changed
    with london.read() as session:
        assert profile_service.get_profile(session=session, name="CDO default") == first


def test_concurrent_weight_writers_lose_nothing_and_never_fail(london: Database) -> None:
    start = save(london, 0.5)["version"]

    def edit(n: int) -> str:
        try:
            save(london, 1.0 + n / 10)
        except Conflict:
            return "conflict"
        return "ok"

    outcomes = race(edit, writers=WRITERS, edits_each=EDITS_EACH)
    with london.read() as session:
        history = profile_service.profile_history(session=session, name="CDO default")
    assert history[0]["version"] == start + outcomes.count("ok")


@pytest.mark.parametrize("name", ["compare", "from-sliders", "ahp", "a/b", "."])
def test_a_new_profile_is_refused_a_name_its_address_cannot_reach(
    london: Database, name: str,
) -> None:
    with london.read() as session:
        base = profile_service.get_profile(session=session, name="CDO default")
    with pytest.raises(Invalid) as refused, london.write() as session:
        profile_service.set_weights(
            session=session, actor=SYSTEM, name=name, create=True,
            dimension_weights=base["weights"]["dimension"],
            criterion_weights=base["weights"]["criterion"])
    assert "name" in refused.value.errors
    with london.read() as session:
        assert name not in [p["name"] for p in profile_service.list_profiles(session=session)]
