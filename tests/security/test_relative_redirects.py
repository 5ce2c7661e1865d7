"""Every redirect to the app's own pages is relative: the client's Host header never names it.

Found in review: a dozen page routes and Starlette's trailing-slash redirect answered with an
absolute Location built from the Host header (any port passes the allowed-hosts check, and
with `PORTFOLIO_ALLOWED_HOSTS=*` any host), though the README promises relative redirects.
"""

from __future__ import annotations

import pytest

from portfolio.db import Database
from tests.web.auth import Browser, sign_in
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """The web layer's headers: SQLite is enough."""
    return "sqlite"


@pytest.mark.parametrize("host", ["testserver:9999", "evil.example"])
def test_a_form_posts_redirect_and_a_trailing_slash_are_relative(settings, db: Database,  # type: ignore[no-untyped-def]
                                                                 host: str) -> None:
    app = create_app(settings.model_copy(update={"allowed_hosts": ["*"]}))
    with Browser(app) as user:
        sign_in(user, db, "researcher")
        saved = user.post("/account/notifications", data={}, headers={"host": host},
                          follow_redirects=False)
        assert saved.status_code == 303
        assert saved.headers["location"] == "/account#notification-choices"
        read = user.post("/notifications/read", data={}, headers={"host": host},
                         follow_redirects=False)
        assert read.headers["location"] == "/notifications"
        slash = user.get("/admin/users/", headers={"host": host}, follow_redirects=False)
        assert slash.status_code in (307, 308)
        assert slash.headers["location"].startswith("/admin/users"), slash.headers["location"]


def test_a_path_that_would_name_another_site_is_left_whole() -> None:
    from web.security import relative_location

    assert relative_location(b"http://host/a?b#c", b"host") == b"/a?b#c"
    assert relative_location(b"https://host", b"host") == b"/"
    assert relative_location(b"http://host:81/a", b"host") == b"http://host:81/a"
    for path in (b"//evil.example/x", b"/\\evil.example/x"):
        assert relative_location(b"http://host" + path, b"host") == b"http://host" + path
