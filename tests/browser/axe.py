"""Run axe-core (installed from npm by package.json) on a Playwright page and report violations."""

from __future__ import annotations

from pathlib import Path

AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0-2.2 A and AA plus axe's best practices: the gate is zero violations of any impact.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """Inject axe-core into the page and return its violations for the WCAG 2.2 AA rule set."""
    if not AXE_SCRIPT.exists():
        raise FileNotFoundError(f"{AXE_SCRIPT} is missing: run `make setup` (npm ci)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the pages' CSP (script-src 'self')
        # does not govern; a <script> tag added to the page would be refused.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    # A viewport change fires the page's resize handlers (which give scrolling tables a tab
    # stop) before the next frames are drawn: wait for two, or axe can run before them.
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => "
                  "requestAnimationFrame(done)))")
    result = page.evaluate(
        "(tags) => axe.run(document, "
        "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS)
    return result["violations"]


def describe(violations: list[dict]) -> str:
    """Say each violation with its impact and the first few offending elements."""
    lines = []
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)


def assert_accessible(page, state: str) -> None:  # type: ignore[no-untyped-def]
    """Fail naming every axe violation found on the page in the named state."""
    violations = axe_violations(page)
    assert not violations, f"axe found violations on {state}:\n{describe(violations)}"
