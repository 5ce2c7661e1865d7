"""The services' inputs refuse true or false for a number, from any caller (an import too)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from pydantic import ValidationError

import portfolio.services
from portfolio.schemas import AssessmentInput, Input, field_errors
from tests.json_numbers import number_leaves, true_at


def service_inputs() -> list[type[Input]]:
    """Return every input model the services declare, their modules imported first."""
    for module in pkgutil.walk_packages(portfolio.services.__path__, "portfolio.services."):
        importlib.import_module(module.name)
    found: list[type[Input]] = []
    waiting = [Input]
    while waiting:
        for model in waiting.pop().__subclasses__():
            found.append(model)
            waiting.append(model)
    return found


def numbers_of(model: type[Input]) -> list[tuple[str, ...]]:
    """Return the paths to the numbers a model takes."""
    schema = model.model_json_schema()
    return list(dict.fromkeys(number_leaves(schema, schema)))


NUMBERS = [(model, leaf) for model in service_inputs() for leaf in numbers_of(model)]


def test_the_services_declare_numbers_to_check() -> None:
    assert len(NUMBERS) >= 20, NUMBERS


@pytest.mark.parametrize(("model", "leaf"), NUMBERS,
                         ids=[f"{m.__name__}.{'.'.join(leaf)}" for m, leaf in NUMBERS])
def test_a_service_input_refuses_true_for_a_number(model: type[Input],
                                                   leaf: tuple[str, ...]) -> None:
    # A spreadsheet's TRUE in a cost column, like a JSON true, was taken as 1.
    with pytest.raises(ValidationError) as refused:
        model.model_validate(true_at(leaf))
    message = field_errors(refused.value).get(".".join(leaf), "")
    assert "number" in message and "true" in message, field_errors(refused.value)


def test_a_service_input_still_reads_digits_typed_into_a_form() -> None:
    assert AssessmentInput.model_validate({"criterion": "reach", "level": "4"}).level == 4


def dates_of(model: type[Input]) -> list[str]:
    """Return the names of a model's date fields (top level)."""
    properties = model.model_json_schema().get("properties", {})
    return [name for name, spec in properties.items()
            if spec.get("format") == "date"
            or any(s.get("format") == "date" for s in spec.get("anyOf", []))]


DATES = [(model, name) for model in service_inputs() for name in dates_of(model)]


def test_the_services_declare_dates_to_check() -> None:
    assert {"start_date", "end_date"} <= {name for _model, name in DATES}, DATES


@pytest.mark.parametrize(("model", "name"), DATES, ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("typed", [1735689600, "1735689600", 1735689600.0])
def test_a_date_is_year_month_day_never_a_count_of_seconds(model: type[Input], name: str,
                                                           typed: object) -> None:
    # An import review: 1735689600 in an import's start_date became 2025-01-01, pydantic
    # reading a number (or digits) as seconds since 1970; DESIGN and the docs say YYYY-MM-DD.
    with pytest.raises(ValidationError) as refused:
        model.model_validate({name: typed})
    problems = field_errors(refused.value)
    assert "year-month-day" in problems.get(name, ""), problems


@pytest.mark.parametrize(("model", "name"), DATES, ids=lambda x: getattr(x, "__name__", x))
def test_a_date_is_only_year_month_day_and_a_midnight_time_is_still_read(
        model: type[Input], name: str) -> None:
    # A review of the rule above: Python's fromisoformat also read "20260401" and the week
    # date "2026-W14-3", which the message and the docs do not offer; and a spreadsheet's
    # "2026-04-01 00:00" (or a client's "2026-04-01T00:00:00"), read before, was refused.
    for typed in ("20260401", "2026-W14-3", "2026W143", "2026-04-01T09:30:00"):
        with pytest.raises(ValidationError) as refused:
            model.model_validate({name: typed})
        assert "year-month-day" in field_errors(refused.value).get(name, ""), typed
    for typed in ("2026-04-01", " 2026-04-01 ", "2026-04-01 00:00", "2026-04-01T00:00:00"):
        try:
            model.model_validate({name: typed})
        except ValidationError as other:
            assert name not in field_errors(other), (typed, field_errors(other))
