"""A harvested dataset's address is a web address, whatever the portal sends.

Found in review: the catalogue form and the API refuse a dataset address that does not start
http:// or https://, but a harvest wrote the portal's landing page or download address as it
came, so a portal (anyone who can publish on it) could put a `javascript:` or `data:` link on
the dataset's page in the portfolio.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import Dataset

ENTRIES = [
    {"identifier": "hostile-1", "title": "Hostile landing page",
     "publisher": {"name": "Greater London Authority"},
     "landingPage": "javascript:alert(document.cookie)",
     "distribution": [{"downloadURL": "https://data.example.org/ok.csv", "format": "csv"}]},
    {"identifier": "hostile-2", "title": "Hostile download",
     "publisher": {"name": "Greater London Authority"},
     "distribution": [{"downloadURL": " JavaScript:alert(1)", "format": "csv"}]},
    {"identifier": "hostile-3", "title": "Data address",
     "publisher": {"name": "Greater London Authority"},
     "landingPage": "data:text/html,<script>alert(1)</script>",
     "distribution": [{"downloadURL": "https://data.example.org/three.csv", "format": "csv"}]},
    {"identifier": "fine-4", "title": "Ordinary dataset",
     "publisher": {"name": "Greater London Authority"},
     "landingPage": "https://data.example.org/d/fine-4",
     "distribution": [{"downloadURL": "https://data.example.org/four.csv", "format": "csv"}]},
]


class Portal(BaseHTTPRequestHandler):
    """A DCAT catalogue whose entries link to scripts."""

    def log_message(self, *_args: object) -> None:
        return

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        body = orjson.dumps({"dataset": ENTRIES})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def portal() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/data.json"
    finally:
        server.shutdown()
        server.server_close()


def test_a_harvest_keeps_only_web_addresses(signed_in, london: Database,  # type: ignore[no-untyped-def]
                                            portal: str) -> None:
    cdo = signed_in("cdo", html=True)
    answer = cdo.post("/catalogue/harvest", data={"url": portal, "publisher": "GLA"},
                      follow_redirects=False)
    assert answer.status_code == 303, answer.text
    with london.read() as session:
        urls = dict(session.execute(select(Dataset.source_identifier, Dataset.url).where(
            Dataset.source_identifier.in_([e["identifier"] for e in ENTRIES]))).all())
    # A hostile landing page gives way to the entry's next address that is a web address.
    assert urls == {"hostile-1": "https://data.example.org/ok.csv", "hostile-2": "",
                    "hostile-3": "https://data.example.org/three.csv",
                    "fine-4": "https://data.example.org/d/fine-4"}
    with london.read() as session:
        codes = session.execute(select(Dataset.code).where(
            Dataset.source_identifier.in_(["hostile-1", "hostile-2", "hostile-3"]))).scalars()
        pages = [cdo.get(f"/datasets/{code}").text for code in codes]
    assert all("javascript:" not in page.lower() and 'href="data:' not in page
               for page in pages)
