"""Parse served HTML into a small tree the page tests can query (stdlib html.parser only)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class Element:
    """An element with its attributes, children and text."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element | str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return an attribute's value."""
        return self.attrs.get(name, default)

    def text(self) -> str:
        """Return the element's text with whitespace collapsed."""
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.text())
        return re.sub(r"\s+", " ", " ".join(parts)).strip()

    def iter(self):  # type: ignore[no-untyped-def]
        """Yield every element below this one, in document order."""
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Return the elements with a tag and attributes (class_ matches one class)."""
        found = []
        for element in self.iter():
            if tag and element.tag != tag:
                continue
            if all(_matches(element, name, value) for name, value in attrs.items()):
                found.append(element)
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element | None:
        """Return the first matching element, or None."""
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def by_id(self, element_id: str) -> Element:
        """Return the element with an id; fail the test when it is missing."""
        found = self.find(id=element_id)
        assert found is not None, f"no element with id {element_id!r}"
        return found

    def error_for(self, control_id: str) -> str:
        """Return the error message tied to a control through aria-describedby."""
        control = self.by_id(control_id)
        ids = (control.get("aria-describedby") or "").split()
        errors = [i for i in ids if i.endswith("-error")]
        assert errors, f"{control_id!r} has no error message tied to it"
        return self.by_id(errors[0]).text().removeprefix("Error:").strip()

    def label_for(self, control_id: str) -> str:
        """Return the text of a control's label."""
        label = self.find("label", **{"for": control_id})
        assert label is not None, f"no label for {control_id!r}"
        return label.text()


def _matches(element: Element, name: str, value: str) -> bool:
    if name == "class_":
        return value in (element.get("class") or "").split()
    return element.get(name.rstrip("_")) == value


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v if v is not None else "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v if v is not None else "" for k, v in attrs}, self.current)
        self.current.children.append(element)

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_html(text: str) -> Element:
    """Parse an HTML document or fragment."""
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root
