"""`portfolio agreements`: list, an all-or-nothing import, and what breaks by a day."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from portfolio.cli import app
from portfolio.errors import Invalid

runner = CliRunner()
# The csv module's own field limit, before any library raises it.
DEFAULT_FIELD_LIMIT = 131_072


def invoke(tmp_path: Path, *args: str, ok: bool = True):  # type: ignore[no-untyped-def]
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = runner.invoke(app, list(args), env=env)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_import_is_all_or_nothing_and_list_shows_what_was_registered(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    today = date.today()
    good = (f"ok-one,Fine agreement,GLA:recipient;LOTI:processor;SPENDINSIGHT:controller,"
            f"card-spend-footfall,signed,"
            f"{today - timedelta(days=100)},{today + timedelta(days=10)}\n")
    bad = "bad-two,Bad,NOPE:controller,card-spend-footfall,signed,2027-01-01,2026-01-01\n"
    header = "code,title,parties,datasets,status,signed_on,expires_on\n"
    (tmp_path / "both.csv").write_text(header + good + bad)
    refused = invoke(tmp_path, "agreements", "import", str(tmp_path / "both.csv"), ok=False)
    assert isinstance(refused.exception, Invalid)  # main() prints it, exit 2
    assert "row 3: expires_on" in refused.output
    listed = invoke(tmp_path, "agreements", "list", "--party", "LOTI", "--format", "json")
    assert "ok-one" not in listed.output  # nothing was imported
    (tmp_path / "good.csv").write_text(header + good)
    invoke(tmp_path, "agreements", "import", str(tmp_path / "good.csv"))
    listed = invoke(tmp_path, "agreements", "list", "--party", "LOTI", "--format", "json")
    assert "ok-one" in listed.output
    ahead = invoke(tmp_path, "agreements", "as-of", str(today + timedelta(days=20)),
                   "--format", "json")
    assert "ok-one" in ahead.output


def test_an_unreadable_import_file_is_refused_in_words_not_a_traceback(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    (tmp_path / "latin1.csv").write_bytes("code,title,parties\nx,Caf\xe9,GLA:controller\n"
                                          .encode("latin-1"))
    (tmp_path / "long.csv").write_text("code,title,parties\nx," + "t" * 200_000 + ",GLA:c\n")
    # A quote left open read every row after it into one title (found in a later review).
    (tmp_path / "open.csv").write_text('code,title,parties\nx,"Open quote,GLA:controller\n'
                                       "y,Lost,GLA:controller\n")
    cases = {str(tmp_path / "missing.csv"): "does not exist", str(tmp_path): "folder",
             str(tmp_path / "latin1.csv"): "UTF-8", str(tmp_path / "long.csv"): "CSV",
             str(tmp_path / "open.csv"): "CSV"}
    # The csv module's field limit is the process's: a library imported earlier in the suite
    # (frictionless) raises it, so the default is set again for the over-limit case.
    limit = csv.field_size_limit(DEFAULT_FIELD_LIMIT)
    try:
        for path, words in cases.items():
            refused = invoke(tmp_path, "agreements", "import", path, ok=False)
            # main() prints an Invalid as one line and exits 2; anything else was a traceback.
            assert isinstance(refused.exception, Invalid), (path, refused.exception)
            assert words in refused.exception.message, refused.exception.message
    finally:
        csv.field_size_limit(limit)


def test_expiring_within_out_of_range_is_refused_as_the_api_refuses_it(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    # 99999999999 days overflowed the date arithmetic (a traceback); -5 listed nothing silently.
    for days in ("99999999999", "-5", "3661"):
        refused = invoke(tmp_path, "agreements", "list", "--expiring-within", days, ok=False)
        assert isinstance(refused.exception, Invalid), (days, refused.exception)
        assert "expiring_within" in refused.exception.errors
    invoke(tmp_path, "agreements", "list", "--expiring-within", "3660")


def test_list_refuses_a_standing_that_is_not_one_as_the_api_does(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    result = invoke(tmp_path, "agreements", "list", "--status", "sigend", ok=False)
    assert isinstance(result.exception, Invalid), result  # main() prints it, exit 2
    said = result.exception.errors["status"]
    assert "'sigend' is not one of the choices" in said and "drafting" in said


def test_list_refuses_terminated_which_no_agreement_stands_at(tmp_path: Path) -> None:
    # A terminated agreement stands as expired: `--status terminated` always listed nothing.
    invoke(tmp_path, "db", "upgrade")
    result = invoke(tmp_path, "agreements", "list", "--status", "terminated", ok=False)
    assert isinstance(result.exception, Invalid), result  # main() prints it, exit 2
    said = result.exception.errors["status"]
    assert "'terminated' is not one of the choices: drafting, signed or expired" in said


# Review: `--status bogus` was refused as `status:` and a day before today as `as_of:`, names
# the command does not show; the argument is DATE.
def test_a_refusal_names_the_option_or_argument_as_the_command_shows_it(
        tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.test_cli import through_main

    invoke(tmp_path, "db", "upgrade")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for args, name in ((["agreements", "list", "--status", "bogus"], "--status"),
                       (["agreements", "as-of", "2020-01-01"], "DATE"),
                       (["agreements", "as-of", "soon"], "DATE")):
        code, _out, err = through_main(monkeypatch, capsys, url, *args)
        assert code == 2, (args, err)
        assert err.startswith(f"error: {name}: ") and err.count("\n") == 1, (args, err)
