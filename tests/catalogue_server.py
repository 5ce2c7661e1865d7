"""A local portal that replays catalogue responses in CKAN's and DCAT's documented shapes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "catalogues"
BIG_CATALOGUE = 10_000


def big_catalogue_page(start: int, rows: int) -> bytes:
    """Return one page of a generated 10,000-dataset CKAN catalogue."""
    results = [{
        "id": f"gen-{i:05d}", "name": f"generated-{i}", "title": f"Generated dataset {i}",
        "notes": "A dataset of a large catalogue.", "license_title": "OGL-UK-3.0",
        "metadata_modified": "2026-10-01T00:00:00", "organization": {"title": "GLA"},
        "resources": [{"format": "CSV", "url": f"https://data.example.london/{i}.csv"}],
        "url": f"https://data.example.london/dataset/{i}",
    } for i in range(start, min(start + rows, BIG_CATALOGUE))]
    return orjson.dumps({"success": True, "result": {"count": BIG_CATALOGUE,
                                                     "results": results}})


def _ckan(results: object, count: object = 1) -> bytes:
    """Return a package_search answer with these results and count."""
    return orjson.dumps({"success": True, "result": {"count": count, "results": results}})


# Portals answering in the right shape with a wrong part inside: /odd/NAME/...
ODD: dict[str, bytes] = {
    "null-package": _ckan([None]),
    "count-in-words": _ckan([{"id": "a", "title": "A"}], count="many"),
    "long-id": _ckan([{"id": "x" * 301, "name": "long"}]),
    "resources-number": _ckan([{"id": "res-5", "title": "Resources as a number",
                                "resources": 5}]),
    "distribution-number": orjson.dumps({"dataset": [{
        "identifier": "dist-5", "title": "Distribution as a number", "distribution": 5}]}),
}


class Replay(BaseHTTPRequestHandler):
    """Answer each portal path the way a real (or a broken) portal would."""

    calls: Counter[str] = Counter()
    hang = threading.Event()  # never set: a portal that does not answer

    def log_message(self, *_args: object) -> None:  # keep the test output quiet
        return

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        Replay.calls[parts.path + "?" + parts.query] += 1
        route = parts.path.split("/")[1]
        if route in {"ckan", "flaky"}:
            if route == "flaky" and query.get("start") == "2" and Replay.calls[
                    parts.path + "?" + parts.query] == 1:
                return self._send(500, b"Internal Server Error", "text/plain")
            return self._file(f"ckan_package_search_start{query.get('start', '0')}.json")
        if route == "datapress":
            return self._file(f"datapress_current_package_list_offset{query['offset']}.json")
        if route == "dcat":
            return self._file("dcat_data.json")
        if route == "dupes":
            return self._file("dcat_duplicate_identifiers.json")
        if route == "big":
            return self._send(200, big_catalogue_page(int(query.get("start", 0)),
                                                      int(query.get("rows", 1000))))
        if route == "odd":
            return self._send(200, ODD[parts.path.split("/")[2]])
        if route == "down":
            return self._send(500, b"Internal Server Error", "text/plain")
        if route == "slow":
            Replay.hang.wait(3)
            return self._send(200, b"{}")
        if route == "html":
            return self._send(200, b"<!doctype html><title>Portal</title><p>Welcome",
                              "text/html")
        if route == "malformed":
            return self._send(200, b'{"success": true, "result": {"count": 3, "res')
        if route == "loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if route == "huge":
            return self._send(200, b'{"success": true, "result": [' + b" " * 200_000 + b"]}")
        return self._send(404, b"not found", "text/plain")

    def _file(self, name: str) -> None:
        """Answer with a fixture file."""
        self._send(200, (FIXTURES / name).read_bytes())

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        """Answer with a status and a body."""
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def replay_portal() -> Iterator[str]:
    """Serve the replay portal on a free loopback port; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
