"""The API's documentation page: Swagger UI from the npm registry, started without inline script.

FastAPI's own /docs loads Swagger UI from a CDN and starts it with an inline script, which the
app's Content-Security-Policy refuses. This page serves `swagger-ui-dist` through the asset
pipeline (web/assets.py) and starts it from web/static/docs.js; it needs a signed-in reader
unless public read is on.
"""

from __future__ import annotations

from fastapi import Request

from web.routing import Router
from web.security import READ
from web.templating import render

router = Router(include_in_schema=False)


@router.get("/docs", name="api_docs", dependencies=[READ])
def api_docs(request: Request):
    """Show the interactive documentation of the JSON API."""
    return render(request, "docs.html", {"openapi_url": request.app.openapi_url})
