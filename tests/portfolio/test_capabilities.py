"""The one table of capabilities: roles, scopes and the words of a refusal."""

from __future__ import annotations

import pytest

from portfolio.actors import Actor
from portfolio.capabilities import (
    TABLE,
    Capability,
    can,
    organisation_of,
    require,
    roles_with,
)
from portfolio.enums import Role
from portfolio.errors import NotAllowed

LEAD = Actor(id=1, role=Role.LEAD, organisation_id=7)
CDO = Actor(id=2, role=Role.CDO)
RESEARCHER = Actor(id=3, role=Role.RESEARCHER)
ADMIN = Actor(id=4, role=Role.ADMIN)


def test_every_role_has_a_row_and_the_admin_holds_every_capability() -> None:
    assert set(TABLE) == set(Role)
    assert all(can(ADMIN, c) for c in Capability)


def test_a_lead_edits_only_their_own_organisations_projects() -> None:
    assert can(LEAD, Capability.EDIT_PROJECT, {"owner_id": 7})
    assert not can(LEAD, Capability.EDIT_PROJECT, {"owner_id": 8})
    assert can(CDO, Capability.EDIT_PROJECT, {"owner_id": 8})


def test_a_thing_is_known_by_its_owner_publisher_or_organisation() -> None:
    assert organisation_of(5) == 5
    assert organisation_of({"publisher_id": 6}) == 6
    assert organisation_of(LEAD) == 7
    assert organisation_of({"title": "no owner"}) is None
    assert not can(LEAD, Capability.EDIT_PROJECT, {"title": "no owner"})


def test_only_staff_decide_and_change_weights() -> None:
    assert roles_with(Capability.DECIDE) == {Role.CDO, Role.ADMIN}
    assert roles_with(Capability.MANAGE_PROFILES) == {Role.CDO, Role.ADMIN}
    assert roles_with(Capability.MANAGE_USERS) == {Role.ADMIN}


def test_nobody_signed_out_may_do_anything() -> None:
    assert not any(can(None, c) for c in Capability)


def test_a_refusal_names_who_may() -> None:
    with pytest.raises(NotAllowed) as refused:
        require(LEAD, Capability.DECIDE)
    assert str(refused.value) == "a lead may not decide on projects; the CDO or an admin may"
    with pytest.raises(NotAllowed) as refused:
        require(LEAD, Capability.EDIT_PROJECT, {"owner_id": 8})
    assert "for another organisation" in str(refused.value)
    assert "a lead of the owning organisation" in str(refused.value)
    with pytest.raises(NotAllowed):
        require(RESEARCHER, Capability.REGISTER_PROJECT)


def test_only_the_cdo_and_admins_set_capacity() -> None:
    assert roles_with(Capability.SET_CAPACITY) == {Role.CDO, Role.ADMIN}
