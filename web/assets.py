"""Static files with content hashes, and the browser libraries installed from npm."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"
NODE_MODULES = ROOT / "node_modules"

# Only these files of node_modules are served; they come from package-lock.json at set-up.
VENDOR_FILES: dict[str, Path] = {
    "htmx.min.js": NODE_MODULES / "htmx.org" / "dist" / "htmx.min.js",
    "cytoscape.min.js": NODE_MODULES / "cytoscape" / "dist" / "cytoscape.min.js",
    "cytoscape-dagre.min.js": NODE_MODULES / "cytoscape-dagre" / "dist" / "cytoscape-dagre.min.js",
    "swagger-ui-bundle.js": NODE_MODULES / "swagger-ui-dist" / "swagger-ui-bundle.js",
    "swagger-ui.css": NODE_MODULES / "swagger-ui-dist" / "swagger-ui.css",
}


@lru_cache(maxsize=256)
def content_hash(path: Path) -> str:
    """Return a short hash of a file's content, for cache-busting URLs."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except FileNotFoundError:
        return "missing"
