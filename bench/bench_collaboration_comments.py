"""Time a project page holding 500 comments and the fan-out of a decision to 1,000 watchers.

Both run in-process on a fresh SQLite file holding the London demo portfolio. Baselines are
measured in the same run: the same page of a project with no comments, and the fan-out of a
decision to the organisation's few leads. Aims (issue 20): the page under 50 ms, the fan-out
under 2 s of background work.

    python -m bench.bench_collaboration_comments --comments 500 --watchers 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

BUSY = "bd-propensity-to-pay"  # the page with the comments, and the decided project
QUIET = "bd-debt-arrears-prevention"  # the same borough's project with no discussion
PASSWORD = "bench password that is long enough"
BODY = ("Thanks — see **the DPIA** and [the plan](https://data.london.gov.uk/plan). "
        "Next step: @lead.barking to confirm the wards.\n\n- one\n- two")


def build(path: Path, comments: int, watchers: int) -> Any:
    """Migrate and seed a database; add comments on one project and many watchers of it."""
    from sqlalchemy import insert, select

    from portfolio import migrate
    from portfolio.db import Database, make_engine
    from portfolio.models import Project, ProjectComment, ProjectWatch, User, utcnow
    from portfolio.services.comments import render_markdown
    from portfolio.settings import Settings
    from seeds.loader import load_london

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    settings = Settings(database_url=url, environment="test", secret_key=common.BENCH_SECRET)
    db = Database(settings)
    with db.write() as session:
        load_london(session)
        project_id = session.execute(select(Project.id).where(Project.slug == BUSY)).scalar_one()
        author = session.execute(select(User.id).limit(1)).scalar_one()
        now = utcnow()
        session.execute(insert(ProjectComment), [
            {"project_id": project_id, "author_id": author, "body": f"{BODY} ({i})",
             "body_html": render_markdown(f"{BODY} ({i})"), "created_at": now}
            for i in range(comments)])
        session.execute(insert(User), [
            {"email": f"watcher{i}@bench.london", "name": f"Watcher {i}", "role": "researcher",
             "is_active": True, "created_at": now} for i in range(watchers)])
        ids = session.execute(select(User.id).where(User.email.like("watcher%@bench.london"))) \
            .scalars().all()
        session.execute(insert(ProjectWatch), [
            {"user_id": uid, "project_id": project_id, "watching": True, "changed_at": now}
            for uid in ids])
    return db, settings


def time_pages(settings: Any, db: Any, requests: int) -> dict[str, float]:
    """Return the median milliseconds of the busy and the quiet project page (warm)."""
    from fastapi.testclient import TestClient

    from portfolio.actors import SYSTEM
    from portfolio.services import accounts
    from web.app import create_app

    with db.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, password=PASSWORD, data={
            "email": "reader@bench.london", "name": "Reader", "role": "cdo"})
    timings: dict[str, float] = {}
    with TestClient(create_app(settings)) as client:
        page = client.get("/login").text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"email": "reader@bench.london", "password": PASSWORD,
                                    "csrf_token": csrf, "next": "/"})
        for name, slug in (("quiet", QUIET), ("busy", BUSY)):
            for _ in range(3):  # warm: templates compiled, ranking computed
                assert client.get(f"/projects/{slug}").status_code == 200
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(f"/projects/{slug}")
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            timings[name] = statistics.median(samples)
        assert client.get(f"/projects/{BUSY}").text.count('class="comment-body"') > 0
    return timings


def time_fan_out(db: Any) -> dict[str, float]:
    """Return the seconds of background work fanning a decision out: busy and quiet project."""
    from portfolio.actors import Actor
    from portfolio.enums import Role
    from portfolio.services import notifications, reviews

    cdo = Actor(id=None, role=Role.CDO, email="bench")
    timings: dict[str, float] = {}
    notifications.deliver_pending(db, send=False)  # the stale check, once, out of the timing
    for name, slug in (("quiet", QUIET), ("busy", BUSY)):
        with db.write() as session:
            reviews.decide(session=session, actor=cdo, slug=slug, decision="defer",
                           rationale="Next quarter.")
        db.background.wait()  # the kick after the commit may have done the work already
        with db.write() as session:
            reviews.decide(session=session, actor=cdo, slug=slug, decision="defer",
                           rationale="Again next quarter.")
            session.info.pop(notifications.AFTER_COMMIT, None)  # timed below instead
        started = time.perf_counter()
        done = notifications.deliver_pending(db, send=False)
        timings[name] = time.perf_counter() - started
        timings[f"{name}_notifications"] = done["notifications"]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comments", type=int, default=500)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db, settings = build(Path(folder) / "bench.db", args.comments, args.watchers)
        pages = time_pages(settings, db, args.requests)
        fan = time_fan_out(db)
        db.dispose()
    print(f"machine: {common.machine_info()}")
    print(f"project page with {args.comments} comments: {pages['busy']:.1f} ms median "
          f"(aim < 50 ms); same page with none: {pages['quiet']:.1f} ms; "
          f"ratio {pages['busy'] / pages['quiet']:.2f}")
    print(f"decision fanned out to {fan['busy_notifications']:.0f} people: "
          f"{fan['busy']:.3f} s (aim < 2 s); to {fan['quiet_notifications']:.0f}: "
          f"{fan['quiet']:.3f} s; ratio {fan['busy'] / max(fan['quiet'], 1e-9):.1f}")


if __name__ == "__main__":
    main()
