"""Page objects for the integration tests: a response parsed into enough of a DOM to read
what the user sees, and the two readings the tests use.

``Page`` reads the affiliate's journey (elements, widgets, the récapitulatif);
``BackOfficePage`` reads the back office the way its tests were written: texts by id, with
a space where a tag starts (as a browser's layout would separate words), and the rows of
the table after a heading.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Node:
    """An element of a parsed page: enough of a DOM to read what the user sees."""

    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    @property
    def text(self) -> str:
        """The text content, with runs of ASCII white space collapsed (and NBSPs kept)."""
        parts: list[str] = []

        def walk(node):
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag not in ("script", "style"):
                    walk(child)

        walk(self)
        return re.sub(r"[ \t\r\n\f]+", " ", "".join(parts)).strip()

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, class_: str | None = None, **attrs) -> list[Node]:
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and (class_ is None or class_ in (node.attrs.get("class") or "").split())
            and all(node.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, class_: str | None = None, **attrs) -> Node | None:
        found = self.find_all(tag, class_, **attrs)
        return found[0] if found else None

    def by_id(self, ident: str) -> Node:
        found = self.find(id=ident)
        assert found is not None, f"no element #{ident}"
        return found


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: ("" if v is None else v) for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


class Page(Node):
    """A response, parsed: status, headers, text and the journey's widgets."""

    def __init__(self, response):
        builder = _Builder()
        self.html = response.get_data(as_text=True)
        builder.feed(self.html)
        builder.close()
        super().__init__("#document", {}, None)
        self.children = builder.root.children
        self.response = response
        self.status = response.status_code

    @property
    def is_full_page(self) -> bool:
        return "<html" in self.html and self.find("main", id="contenu") is not None

    @property
    def title(self) -> str:
        return self.find("title").text

    @property
    def h1(self) -> str:
        return self.find("h1").text

    def flashes(self) -> list[str]:
        flashes = self.find(class_="flashes")
        return [p.text for p in flashes.find_all("p")] if flashes else []

    def error_summary(self) -> list[str]:
        summary = self.find(id="resume-erreurs")
        return [li.text for li in summary.find_all("li")] if summary else []

    def field_error(self, name: str) -> str | None:
        node = self.find(id=f"{name}-erreur")
        return node.text.removeprefix("Erreur : ") if node is not None else None

    def recap(self) -> dict[str, str]:
        """The récapitulatif's label → value rows (figures and the schedule's summary)."""
        rows = {}
        for table in self.find_all("table", class_="recap"):
            for tr in table.find_all("tr"):
                rows[tr.find("th").text] = tr.find("td").text
        return rows

    def answers(self) -> dict[str, dict]:
        """Validation's answers, by group title: its *Modifier* as (accessible name, href)
        or None, and its label → value rows."""
        groups = {}
        for card in self.find_all(class_="resume"):
            link = card.find("a", class_="modifier")
            rows = [div for div in card.find("dl").children if isinstance(div, Node)]
            groups[card.find("h3").text] = {
                "modifier": (link.text, link.attrs["href"]) if link is not None else None,
                "rows": {div.find("dt").text: div.find("dd").text for div in rows},
            }
        return groups

    def table_rows(self, class_: str) -> list[list[str]]:
        table = self.find("table", class_=class_)
        assert table is not None, f"no table.{class_}"
        return [
            [cell.text for cell in tr.find_all() if cell.tag in ("th", "td")]
            for tr in table.find_all("tr")
        ]

    def value(self, ident: str) -> str:
        return self.by_id(ident).attrs.get("value", "")

    def checked(self, ident: str) -> bool:
        return "checked" in self.by_id(ident).attrs

    def selected(self, ident: str) -> str | None:
        options = [o for o in self.by_id(ident).find_all("option") if "selected" in o.attrs]
        return options[0].attrs["value"] if options else None

    def options(self, ident: str) -> list[str]:
        return [o.attrs["value"] for o in self.by_id(ident).find_all("option")]

    def token(self) -> str:
        return self.find("input", name="token").attrs["value"]


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def _squash(text: str) -> str:
    """Collapse HTML whitespace, keeping the no-break spaces amounts are written with."""
    return re.sub(r"[ \t\r\n\f]+", " ", text).strip()


def _spaced(node: Node) -> str:
    """The node's text with a space where each descendant tag starts (script included)."""
    parts: list[str] = []

    def walk(parent: Node) -> None:
        for child in parent.children:
            if isinstance(child, str):
                parts.append(child)
            else:
                parts.append(" ")
                walk(child)

    walk(node)
    return "".join(parts)


def _text(node: Node) -> str:
    return _squash(_spaced(node))


def _cells(tr: Node) -> list[Node]:
    return [c for c in tr.children if isinstance(c, Node) and c.tag in ("th", "td")]


class BackOfficePage:
    """A back-office response: status, texts by id, flashes, refusals, values, rows."""

    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.html = response.get_data(as_text=True)
        self.root = parse(self.html)
        self.elements = list(self.root.iter())
        self.ids = {n.attrs["id"]: n for n in self.elements if "id" in n.attrs}
        self.inputs: dict[str, Node] = {}
        for n in self.elements:
            if n.tag in ("input", "select", "textarea") and "name" in n.attrs:
                self.inputs.setdefault(n.attrs.get("id") or n.attrs["name"], n)

    @property
    def text(self) -> str:
        return _squash(self.html_text())

    def html_text(self) -> str:
        main = self.ids.get("contenu")
        return _spaced(main) if main else re.sub(r"<[^>]+>", " ", self.html)

    @property
    def title(self) -> str:
        return next(_text(n) for n in self.elements if n.tag == "title")

    @property
    def h1(self) -> str:
        return next(_text(n) for n in self.elements if n.tag == "h1")

    @property
    def is_full_page(self) -> bool:
        return "<html" in self.html

    def by_id(self, ident: str) -> str:
        return _text(self.ids[ident])

    def has_id(self, ident: str) -> bool:
        return ident in self.ids

    def field_error(self, name: str) -> str | None:
        node = self.ids.get(f"{name}-erreur")
        return _text(node).removeprefix("Erreur : ") if node else None

    def error_summary(self) -> list[str]:
        node = self.ids.get("resume-erreurs")
        if node is None:
            return []
        return [_text(li) for li in node.iter() if li.tag == "li"]

    def flashes(self) -> list[str]:
        return [
            _text(n)
            for n in self.elements
            if n.tag == "p"
            and "notice" in n.attrs.get("class", "").split()
            and n.attrs.get("role") in ("alert", "status")
            and "id" not in n.attrs
        ]

    def refusal(self) -> str | None:
        node = self.ids.get("refus")
        return _text(node) if node else None

    def value(self, ident: str) -> str:
        node = self.inputs[ident]
        if node.tag == "textarea":
            return _spaced(node)
        if node.tag == "select":
            chosen = [o for o in node.iter() if o.tag == "option" and "selected" in o.attrs]
            return chosen[0].attrs["value"] if chosen else ""
        return node.attrs.get("value", "")

    def rows_after(self, ident: str) -> list[list[str]]:
        """The rows of the first table inside (or right after the heading) ``ident``."""
        start = self.ids[ident]
        table = start.find("table")
        if table is None:
            index = self.elements.index(start)
            table = next(n for n in self.elements[index:] if n.tag == "table")
        return [[_text(c) for c in _cells(tr)] for tr in table.iter() if tr.tag == "tr"]

    def recap(self) -> dict[str, str]:
        """The label → value rows of the page's récapitulatif tables."""
        rows = {}
        for table in self.elements:
            if table.tag == "table" and "recap" in table.attrs.get("class", ""):
                for tr in (n for n in table.iter() if n.tag == "tr"):
                    cells = [
                        _text(c)
                        for c in tr.children
                        if isinstance(c, Node) and c.tag in ("th", "td")
                    ]
                    rows[cells[0]] = cells[1]
        return rows
