"""Parse served HTML with lxml into a small wrapper the page tests query."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree
from lxml import html as lxml_html


class Element:
    """An element with its attributes and text, found by tag and attributes."""

    def __init__(self, node: etree._Element, *, document: bool = False) -> None:
        self.node = node
        self.document = document  # the document holds its root element too
        self.tag = "#document" if document else str(node.tag)
        self.attrs: dict[str, str] = {} if document else {
            str(k): _written(str(k), str(v)) for k, v in node.attrib.items()}

    @property
    def parent(self) -> Element | None:
        """Return the enclosing element, or None at the top."""
        above = self.node.getparent()
        return None if above is None or self.document else Element(above)

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return an attribute's value."""
        return self.attrs.get(name, default)

    def text(self) -> str:
        """Return the element's text with whitespace collapsed."""
        return re.sub(r"\s+", " ", " ".join(self.node.itertext())).strip()

    def iter(self) -> Iterator[Element]:
        """Yield every element below this one, in document order."""
        for node in self.node.iter() if self.document else self.node.iterdescendants():
            if isinstance(node.tag, str):  # not a comment or processing instruction
                yield Element(node)

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Return the elements with a tag and attributes (class_ matches one class)."""
        return [element for element in self.iter()
                if (not tag or element.tag == tag)
                and all(_matches(element, name, value) for name, value in attrs.items())]

    def find(self, tag: str | None = None, **attrs: str) -> Element | None:
        """Return the first matching element, or None."""
        return next((e for e in self.find_all(tag, **attrs)), None)

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


# libxml2 fills some bare boolean attributes with their own name (`selected="selected"`); the
# tests compare them as written, so a bare one reads as empty.
BOOLEAN = frozenset({"checked", "selected", "disabled", "readonly", "multiple", "hidden",
                     "required", "autofocus", "open", "novalidate", "defer", "async"})


def _written(name: str, value: str) -> str:
    return "" if name in BOOLEAN and value == name else value


def _matches(element: Element, name: str, value: str) -> bool:
    if name == "class_":
        return value in (element.get("class") or "").split()
    return element.get(name.rstrip("_")) == value


def parse_html(text: str) -> Element:
    """Parse an HTML document or fragment (lxml's HTML parser, as browsers recover)."""
    return Element(lxml_html.document_fromstring(text if text.strip() else "<html></html>"),
                   document=True)
