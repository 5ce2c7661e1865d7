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
