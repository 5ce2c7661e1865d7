"""The `portfolio` command end to end on an SQLite file."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from portfolio.cli import app, write_json_rows
from seeds.loader import WRITTEN_FOR

runner = CliRunner()


def invoke(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_upgrade_seed_and_list_projects_as_json(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    current = invoke(tmp_path, "db", "current").output
    assert "current: base" not in current
    assert current.split("current: ")[1].split()[0] == current.split("head: ")[1].split()[0]
    invoke(tmp_path, "seed", "london")
    assert "skipped" in invoke(tmp_path, "seed", "london", "--if-empty").output
    rows = json.loads(
        invoke(
            tmp_path, "projects", "list", "--organisation", "E09000002", "--format", "json"
        ).stdout
    )
    assert rows and all(r["organisation"] == "E09000002" for r in rows)
    assert {"slug", "title", "organisation", "status"} <= set(rows[0])


def test_downgrade_to_base_empties_the_database(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    assert "base" in invoke(tmp_path, "db", "downgrade", "base").output


def test_seed_synthetic_prints_what_it_added(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    output = invoke(tmp_path, "seed", "synthetic", "--projects", "300", "--seed", "2").output
    assert "300 project" in output


def run_portfolio(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `portfolio` command (its real entry point) against a database."""
    env = {**os.environ, "PORTFOLIO_DATABASE_URL": database_url, "COLUMNS": "80"}
    return subprocess.run([str(Path(sys.executable).with_name("portfolio")), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_database_nothing_listens_on_is_one_line_and_a_non_zero_exit() -> None:
    result = run_portfolio("postgresql+psycopg://postgres@127.0.0.1:1/nothing", "projects",
                           "list")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: the database is unavailable")


def test_seeding_a_read_only_database_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    read_only = f"sqlite:///file:{tmp_path / 'cli.db'}?mode=ro&uri=true"
    result = run_portfolio(read_only, "seed", "synthetic", "--projects", "300")
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines and lines[0].startswith("error: the database is read-only"), result.stderr
    assert "Traceback" not in result.stderr and "INSERT" not in result.stderr
    listed = run_portfolio(read_only, "projects", "list", "--format", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_similar_lists_projects_in_other_organisations_as_json(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    rows = json.loads(invoke(tmp_path, "similar", "newham-school-place-planning", "--top", "3",
                             "--format", "json").stdout)
    assert rows[0]["slug"] == "croydon-school-place-planning"
    assert all(r["organisation"] != "E09000025" for r in rows)
    assert "school place" in rows[0]["why"]


def test_roadmap_by_quarter_as_json_and_a_bad_horizon(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    # Seeded as written: the roadmap is dated 2026-12-02 against the demo's own days.
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    body = json.loads(invoke(tmp_path, "roadmap", "--budget", "1500000", "--horizon", "8",
                             "--today", "2026-12-02", "--format", "json").stdout)
    assert body["status"] == "optimal" and body["quarters"][0] == "2026 Q4"
    assert all(used <= 1500000 + 1e-6 for used in body["budget_used"])
    table = invoke(tmp_path, "roadmap", "--budget", "1500000", "--horizon", "8",
                   "--today", "2026-12-02").output
    assert "2027 Q3" in table and "projects start" in table
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    refused = runner.invoke(app, ["roadmap", "--budget", "1", "--horizon", "0"], env=env)
    assert refused.exit_code != 0
    assert "horizon" in getattr(refused.exception, "errors", {})  # main() prints it, exit 2


def test_a_roadmap_saved_as_a_scenario_is_listed_and_re_solved(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    direct = json.loads(invoke(tmp_path, "roadmap", "--budget", "1500000", "--save",
                               "Steady year", "--format", "json").stdout)
    listed = json.loads(invoke(tmp_path, "scenario", "list", "--format", "json").stdout)
    assert [(r["name"], r["kind"], r["horizon"]) for r in listed] == [
        ("Steady year", "roadmap", 8)]
    again = json.loads(invoke(tmp_path, "scenario", "plan", str(listed[0]["id"]),
                              "--format", "json").stdout)
    assert again["roadmap"]["starts"] == direct["starts"]
    table = invoke(tmp_path, "scenario", "plan", str(listed[0]["id"])).output
    assert "Steady year (roadmap)" in table and "projects start" in table


def test_a_roadmap_forces_projects_in_and_out_and_keeps_them_when_saved(tmp_path: Path) -> None:
    # The page and the API take forced sets for a roadmap; the command took none.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    free = json.loads(invoke(tmp_path, "roadmap", "--budget", "1000000", "--horizon", "16",
                             "--format", "json").stdout)
    out = sorted(p["slug"] for p in free["starts"])[0]
    shaped = json.loads(invoke(tmp_path, "roadmap", "--budget", "1000000", "--horizon", "16",
                               "--force-in", "lldc-park-visitor-insights", "--force-out", out,
                               "--save", "Shaped", "--format", "json").stdout)
    started = {p["slug"] for p in shaped["starts"]}
    assert "lldc-park-visitor-insights" in started and out not in started
    saved = json.loads(invoke(tmp_path, "scenario", "list", "--format", "json").stdout)[0]
    assert (saved["force_in"], saved["force_out"]) == (["lldc-park-visitor-insights"], [out])
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    refused = runner.invoke(app, ["roadmap", "--budget", "1", "--force-out", "nowhere"], env=env)
    assert "force_out" in getattr(refused.exception, "errors", {})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                               max_size=3),
    max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4),
                         max_size=3), max_size=4))
def test_rows_written_a_page_at_a_time_are_the_json_of_all_of_them(
    pages: list[list[dict]],
) -> None:
    out = io.StringIO()
    write_json_rows(pages, out)
    assert out.getvalue() == json.dumps([r for page in pages for r in page], indent=2) + "\n"


def test_an_out_path_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # Review: a missing folder or a folder as --out gave a traceback and exit 1.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for out in (tmp_path / "missing" / "graph.graphml", tmp_path):
        for args in (["graph", "export", "--out", str(out)],
                     ["snapshot", "export", "live", "--format", "csv", "--out", str(out)],
                     ["report", "--budget", "2000000", "--out", str(out)]):
            result = runner.invoke(app, args, env=env)
            assert result.exit_code == 2, (args, result.output)
            assert "error:" in result.output and "cannot write" in result.output, result.output


def test_serve_help_says_each_guards_default() -> None:
    # Walkthrough: "[default: PORTFOLIO_..., 10]" was read as Rich markup and vanished.
    result = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())
    for setting, default in [("HEADER_TIMEOUT_SECONDS", 10), ("BODY_TIMEOUT_SECONDS", 30),
                             ("KEEP_ALIVE_SECONDS", 5), ("MAX_CONNECTIONS", 200)]:
        assert f"[default: PORTFOLIO_{setting}, {default}]" in text


def test_seed_if_empty_prints_the_demo_accounts_of_this_database_not_anothers(
    tmp_path: Path, monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    # Walkthrough: seeding a second database (the README's PostgreSQL steps) overwrote
    # var/demo-accounts.txt, and `make run` then printed passwords its database does not have.
    monkeypatch.chdir(tmp_path)

    def run(name: str, *args: str) -> str:
        env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / name}"}
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    for name in ("first.db", "second.db"):
        run(name, "db", "upgrade")
    first = re.findall(r"password: (\S+)", run("first.db", "seed", "london"))
    second = re.findall(r"password: (\S+)", run("second.db", "seed", "london"))
    again = re.findall(r"password: (\S+)", run("first.db", "seed", "london", "--if-empty"))
    assert first and second and not set(first) & set(second)
    assert again == first


def test_exporting_through_a_symlink_writes_the_file_it_points_to(tmp_path: Path) -> None:
    # The export was written beside --out and renamed over it: a symlink (such as /dev/stdout)
    # was replaced by a regular file, and the file it pointed to kept its old content.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    (tmp_path / "kept").mkdir()
    target = tmp_path / "kept" / "projects.csv"
    target.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    invoke(tmp_path, "snapshot", "export", "live", "--format", "csv", "--out", str(link))
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().startswith("rank,slug,")
    assert not list(tmp_path.glob("*.partial")) and not list(target.parent.glob("*.partial"))


def test_an_out_file_whose_write_fails_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # Review: a full disk gave "the database is out of disk space" (exit 3) for a graph and a
    # traceback for a report; the database was fine, the output file could not be written.
    full = Path("/dev/full")
    if not full.is_char_device():
        import pytest

        pytest.skip("no /dev/full on this machine")
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for args in (["graph", "export", "--out", str(full)],
                 ["snapshot", "export", "live", "--format", "csv", "--out", str(full)],
                 ["report", "--budget", "2000000", "--out", str(full)]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2, (args, result.exception, result.output)
        assert "cannot write /dev/full" in result.output, result.output
        assert "database" not in result.output
    assert full.is_char_device()


def test_a_negative_synthetic_seed_is_refused_in_words(tmp_path: Path) -> None:
    # numpy refuses a negative seed: it was a traceback (exit 1) after the database was opened.
    invoke(tmp_path, "db", "upgrade")
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = runner.invoke(app, ["seed", "synthetic", "--projects", "5", "--seed", "-1"], env=env)
    assert result.exit_code == 2, (result.exception, result.output)
    assert "--seed" in result.output and "Traceback" not in result.output


def test_a_solve_limit_that_is_no_time_and_an_empty_save_name_are_refused(
    tmp_path: Path,
) -> None:
    # A script-user review: --wall-clock -1 or nan reached the solver, which warned and went
    # on; --save "" solved and saved nothing, silently.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for command in (["plan", "--budget", "1000000", "--capacity", "50"],
                    ["roadmap", "--budget", "1000000"]):
        for limit in ("-1", "0", "nan", "inf"):
            result = runner.invoke(app, [*command, "--wall-clock", limit], env=env)
            assert result.exit_code != 0, (command, limit, result.output)
            errors = getattr(result.exception, "errors", {})  # main() prints it, exit 2
            assert "seconds" in errors.get("wall_clock_seconds", ""), (command, limit, errors)
    unnamed = runner.invoke(app, ["roadmap", "--budget", "1000000", "--save", ""], env=env)
    assert unnamed.exit_code != 0
    assert "name" in getattr(unnamed.exception, "errors", {}), unnamed.output
    assert json.loads(invoke(tmp_path, "scenario", "list", "--format", "json").stdout) == []


def test_projects_list_refuses_a_status_that_is_not_one_as_the_api_does(
        tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = runner.invoke(app, ["projects", "list", "--status", "aproved"], env=env)
    said = getattr(result.exception, "errors", {}).get("status", "")  # main() prints it, exit 2
    assert "'aproved' is not one of the choices" in said and "in_progress" in said, result


def test_serve_refuses_a_port_no_socket_can_have(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Port 99999 was passed on: uvicorn said "running on http://127.0.0.1:99999" and listened
    # on 34463 (99999 - 65536), so a script pointed at the printed address found nothing.
    import uvicorn
    served: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: served.append(options))
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for port in ("99999", "65536", "-1"):
        result = runner.invoke(app, ["serve", "--port", port], env=env)
        assert result.exit_code == 2, (port, result.output)
        assert "--port" in result.output and "Traceback" not in result.output
    assert served == []


def test_a_setting_that_cannot_be_read_is_refused_in_one_line(
        tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    # PORTFOLIO_PORT=abc made every command print pydantic's traceback and exit 1.
    import pytest

    from portfolio.cli import main
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PORTFOLIO_PORT", "abc")
    monkeypatch.setattr(sys, "argv", ["portfolio", "projects", "list"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    said = capsys.readouterr().err
    assert "PORTFOLIO_PORT" in said and "Traceback" not in said, said


# Found in review: a user added without --name was named by their email, and public read then
# showed that address to anonymous visitors wherever the user's name appears.
def test_a_user_added_without_a_name_is_named_by_the_addresses_local_part(
        tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london")
    invoke(tmp_path, "users", "add", "new.lead@example.london", "--role", "lead",
           "--organisation", "E09000007", "--password", "correct horse battery staple")
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as connection:
        name = connection.execute(text("SELECT name FROM user_account WHERE email = "
                                       "'new.lead@example.london'")).scalar_one()
    engine.dispose()
    assert name == "new.lead"


def refused(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a command expected to be refused in one line (exit 2, no traceback)."""
    environment = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **(env or {})}
    result = runner.invoke(app, list(args), env=environment)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    return " ".join(result.output.split())  # as one line: the console folds long ones


# Found in review: these answered with a Python traceback (exit 1), not one line.
def test_setup_mistakes_are_refused_in_one_line(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    missing = refused(tmp_path, "import", "export-projects", str(tmp_path / "no" / "e.csv"))
    assert "does not exist" in missing
    assert "9999" in refused(tmp_path, "db", "upgrade", "9999")
    assert "nonsense" in refused(tmp_path, "db", "downgrade", "nonsense")
    for url in ("nonsense", "mysql://u@h/db"):
        said = refused(tmp_path, "projects", "list", env={"PORTFOLIO_DATABASE_URL": url})
        assert "PORTFOLIO_DATABASE_URL" in said
    keyless = refused(tmp_path, "serve", env={"PORTFOLIO_ENVIRONMENT": "production",
                                               "PORTFOLIO_SECRET_KEY": ""})
    assert "PORTFOLIO_SECRET_KEY" in keyless


@pytest.mark.parametrize(("name", "value"), [("PORTFOLIO_PORT", "70000"),
                                             ("PORTFOLIO_PORT", "0"),
                                             ("PORTFOLIO_WORKERS", "-1")])
def test_a_port_or_worker_count_out_of_range_is_refused(name: str, value: str) -> None:
    from pydantic import ValidationError

    from portfolio.settings import Settings

    with pytest.raises(ValidationError):
        Settings(**{name.removeprefix("PORTFOLIO_").lower(): value})


# Found in review: an organisation or party code naming nothing listed nothing, exit 0; the API
# refuses the same filters.
def test_a_list_filtered_by_an_unknown_organisation_is_refused(tmp_path: Path) -> None:
    from portfolio.errors import Invalid

    invoke(tmp_path, "db", "upgrade")
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for args in (("projects", "list", "--organisation", "NOPE"),
                 ("agreements", "list", "--party", "NOPE")):
        result = runner.invoke(app, list(args), env=env)
        assert isinstance(result.exception, Invalid), (args, result.output)
        assert "NOPE" in str(result.exception.errors)


def test_a_refusal_names_the_commands_own_option_not_the_apis_field(tmp_path: Path) -> None:
    # A CLI walk-through: `projects status ... --reason` was refused naming `status_reason`,
    # `plan --wall-clock 0` naming `wall_clock_seconds`: options the command does not have.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for args, option in (
        (["projects", "status", "bd-one-view", "idea"], "--reason"),
        (["plan", "--budget", "100000", "--capacity", "10", "--wall-clock", "0"],
         "--wall-clock"),
        (["projects", "override", "bd-ctr-scheme-review", "--value", "50",
          "--justification", "x", "--expires", "2020-01-01"], "--expires"),
        (["roadmap", "--budget", "5", "--discount-rate", "5"], "--discount-rate"),
    ):
        result = run_portfolio(url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(f"error: {option}: "), (args, result.stderr)


@pytest.mark.parametrize(("args", "words"), [
    (["projects", "override", "bd-ctr-scheme-review", "--clear", "--value", "50"],
     "--clear"),
    (["projects", "override", "bd-ctr-scheme-review", "--clear", "--expires", "2030-01-01"],
     "--clear"),
    (["roadmap", "--budget", "100000", "--as", "nobody@example.org"], "--save"),
    # A saved roadmap is solved as of the day it is opened: the day was dropped, exit 0.
    (["roadmap", "--budget", "100000", "--today", "2025-04-01", "--save", "Q"],
     "--today"),
    (["snapshot", "export", "1", "--format", "csv", "--out", "OUT", "--as",
      "nobody@example.org"], "live"),
])
def test_an_option_the_command_would_ignore_is_refused(tmp_path: Path, args: list[str],
                                                       words: str) -> None:
    # The same walk-through: each of these options was silently ignored, exit 0.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    invoke(tmp_path, "snapshot", "create", "--label", "board")
    out = tmp_path / "out.csv"
    args = [str(out) if a == "OUT" else a for a in args]
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, (args, result.output)
    assert words in result.output, result.output
    assert not out.exists()


def test_text_that_looks_like_console_markup_is_printed_as_typed(tmp_path: Path) -> None:
    # An import and export review: a snapshot label or a title holding "[/x]" crashed
    # `snapshot list`, `projects list` and the import's problem table with rich's MarkupError,
    # and "[bold]...[/bold]" or "[link=...]" was shown styled or hidden instead of as typed.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    label = "[/x] closing [link=http://evil.example]click[/link]"
    assert label in " ".join(invoke(tmp_path, "snapshot", "create", "--label", label)
                             .output.split())
    assert "[/x] closing" in invoke(tmp_path, "snapshot", "list").output
    bad = tmp_path / "[draft] bad.csv"
    bad.write_text("slug,title,owner,theme,datasets\n"
                   "markup-title,[/x] Budget review,E09000007,housing,[/x]\n")
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    refused = runner.invoke(app, ["import", "projects", str(bad), "--dry-run"], env=env)
    assert refused.exit_code == 2, (refused.exception, refused.output)
    assert "[draft] bad.csv" in refused.output and "[/x]" in refused.output
    good = tmp_path / "good.csv"
    good.write_text("slug,title,owner,theme\nmarkup-title,[/x] Budget review,E09000007,"
                    "housing\n")
    invoke(tmp_path, "import", "projects", str(good))
    assert "[/x] Budget review" in invoke(tmp_path, "projects", "list").output


def through_main(monkeypatch, capsys, database_url: str,  # type: ignore[no-untyped-def]
                 *args: str) -> tuple[int, str, str]:
    """Run `portfolio ARGS` as installed (through main()); return its exit code, out and err."""
    from portfolio.cli import main

    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", database_url)
    monkeypatch.setattr(sys, "argv", ["portfolio", *args])
    try:
        main()
        code = 0
    except SystemExit as exited:
        code = exited.code if isinstance(exited.code, int) else 1
    said = capsys.readouterr()
    return code, said.out, said.err


# Found in review: these refusals named an API field (`status`), no option at all (`no weight
# profile 'Nope'`), the wrong one (`--value` for --clear), or were Click's multi-line box.
def test_a_refusal_is_one_line_naming_the_option_at_fault(
        tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    invoke(tmp_path, "db", "upgrade")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    out = tmp_path / "pack.pdf"
    for args, option in (
        (["projects", "list", "--status", "bogus"], "--status"),
        (["rank", "--profile", "Nope"], "--profile"),
        (["rank", "--profile", "Nope", "--samples", "0"], "--profile"),
        (["plan", "--budget", "1", "--capacity", "1", "--profile", "Nope"], "--profile"),
        (["plumbing", "--profile", "Nope"], "--profile"),
        (["snapshot", "create", "--label", "x", "--profile", "Nope"], "--profile"),
        (["report", "--out", str(out), "--budget", "1", "--profile", "Nope"], "--profile"),
        (["rank", "--top", "0"], "--top"),
        (["plan", "--budget", "abc", "--capacity", "1"], "--budget"),
        (["projects", "decide", "some-project", "approve"], "--rationale"),
        (["similar"], "SLUG"),
    ):
        code, _out, err = through_main(monkeypatch, capsys, url, *args)
        assert code == 2, (args, code, err)
        assert err.startswith(f"error: {option}: "), (args, err)
        assert err.count("\n") == 1, (args, err)
    assert not out.exists()


def test_clearing_an_override_that_is_not_set_names_the_project_not_an_option(
        tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    # It said "error: --value: This project's priority is not overridden." of `--clear`.
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    code, _out, err = through_main(monkeypatch, capsys, f"sqlite:///{tmp_path / 'cli.db'}",
                                   "projects", "override", "bd-ctr-scheme-review", "--clear")
    assert code == 2, err
    assert err.startswith("error: bd-ctr-scheme-review") and "not overridden" in err, err
    assert "--value" not in err and err.count("\n") == 1, err


def test_a_justification_given_with_clear_is_kept_as_the_reason_in_the_history(
        tmp_path: Path) -> None:
    # Not dropped, as a review thought: the history keeps it as why the override went.
    from sqlalchemy import create_engine, text

    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    invoke(tmp_path, "projects", "override", "bd-ctr-scheme-review", "--value", "50",
           "--justification", "board asked")
    invoke(tmp_path, "projects", "override", "bd-ctr-scheme-review", "--clear",
           "--justification", "no longer needed")
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as connection:
        after = connection.execute(text(
            "SELECT after FROM audit_event WHERE action = 'override' ORDER BY id DESC")).first()
    engine.dispose()
    assert after is not None and json.loads(after[0])["reason"] == "no longer needed"


def test_what_a_command_writes_with_out_is_the_file_alone_and_its_size_is_on_stderr(
        tmp_path: Path) -> None:
    # Review: "wrote /dev/stdout (0 bytes, 0.05 s)" followed the JSON on stdout ("Extra data"),
    # "wrote /dev/stdout" followed </graphml>, and with stdout sent to a file the line written
    # through its own file offset overwrote the start of the data.
    from portfolio.cli import _human_bytes

    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    invoke(tmp_path, "snapshot", "create", "--label", "board")
    env = {**os.environ, "PORTFOLIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    command = str(Path(sys.executable).with_name("portfolio"))

    def run(*args: str, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([command, *args], env=env, stdout=stdout, stderr=subprocess.PIPE,
                              timeout=120, check=True)

    piped = run("snapshot", "export", "1", "--format", "json", "--out", "/dev/stdout")
    assert json.loads(piped.stdout)["snapshot"]["label"] == "board"
    assert f"({_human_bytes(len(piped.stdout))}, " in piped.stderr.decode(), piped.stderr
    graph = run("graph", "export", "--out", "/dev/stdout")
    assert graph.stdout.rstrip().endswith(b"</graphml>")
    assert f"({len(graph.stdout):,} bytes)" in graph.stderr.decode(), graph.stderr
    kept = tmp_path / "kept.json"
    with kept.open("wb") as file:
        run("snapshot", "export", "1", "--format", "json", "--out", "/dev/stdout", stdout=file)
    assert json.loads(kept.read_bytes()) == json.loads(piped.stdout)


def test_status_lines_of_commands_that_write_a_file_go_to_stderr(tmp_path: Path) -> None:
    invoke(tmp_path, "db", "upgrade")
    invoke(tmp_path, "seed", "london", "--today", WRITTEN_FOR.isoformat())
    for args in (["graph", "export", "--out", str(tmp_path / "g.graphml")],
                 ["snapshot", "export", "live", "--format", "csv", "--out",
                  str(tmp_path / "p.csv")],
                 ["import", "export-projects", str(tmp_path / "e.csv")],
                 ["report", "--out", str(tmp_path / "pack.pdf"), "--budget", "100000",
                  "--today", WRITTEN_FOR.isoformat()]):
        result = invoke(tmp_path, *args)
        assert result.stdout == "", (args, result.stdout)
        assert result.stderr.strip(), args


# Review: `rank` against sqlite:////nonexistent/x.db made /nonexistent/ and an empty x.db, then
# said the schema was not up to date (exit 3).
def test_a_missing_database_file_is_named_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "mistyped" / "x.db"
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{missing}"}
    for args in (["rank", "--top", "1"], ["projects", "list"], ["db", "current"],
                 ["snapshot", "list"]):
        said = refused(tmp_path, *args, env=env)
        assert str(missing) in said and "does not exist" in said, (args, said)
        assert "portfolio db upgrade" in said, (args, said)
    assert not missing.parent.exists()
    created = runner.invoke(app, ["db", "upgrade"], env=env)  # which still creates it
    assert created.exit_code == 0 and missing.exists(), created.output
