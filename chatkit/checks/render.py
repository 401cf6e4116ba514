"""Step 5: a chat line rendered as HTML, with every piece of user text escaped.

The check parses what ``render`` returns the way a browser would, for generated
messages -- HTML, quotes, ``&``, entities, format-string braces, accents, emoji in
the name and in the text -- and compares with what the exercise asks for,
``<li><b>NAME: </b>TEXT</li>``: the text a reader sees must be exactly what was
typed (spaces as a browser shows them), and the markup -- tags, attributes -- the
same as your own line for a plain message, whatever the user typed.
"""

from __future__ import annotations

import html.parser
from typing import Any, Callable, Iterable

from ..core.messages import chat
from .engine import Alternative, Behaviour, Exercise, Mismatch, Outcome, Play, Step, Tracer, engine_step

__all__ = ["run_render", "check_render", "PAYLOAD"]

PAYLOAD = '<img src=x onerror="alert(document.cookie)">'
#: Names that break out of an attribute value written with double or single quotes.
QUOTE_PAYLOADS = ('Colt" onmouseover="alert(1)', "Colt' onmouseover='alert(1)")
AS_TYPED = ("Tom & Jerry", "1 < 2 && \"quotes\" 'too' -- &lt;b&gt; is how you write <b>")
PLAIN = ("Colt", "hi all")  # your own line for this is the markup every line must have

MESSAGES = [
    ("plain", *PLAIN), ("plain", "José", "héllo ✓ 😀"), ("plain", "jean luc", "a  b   c"),
    ("plain", "Zoë", "line one\nline two"), ("plain", "a:b", "c: d"), ("plain", "Ann", ":)"),
    ("plain", "x", ""), ("plain", "👩\u200d💻", "42"),
    ("html-text", "Colt", PAYLOAD), ("html-text", "Colt", "<b>bold</b>"),
    ("html-text", "Colt", "<script>alert(1)</script>"), ("html-text", "Colt", "</li><li>fake"),
    ("html-text", "Colt", "<a href='javascript:alert(1)'>x</a>"),
    ("html-name", PAYLOAD, "hi all"), *(("html-name", p, "hi all") for p in QUOTE_PAYLOADS),
    ("html-name", "<i>Eve</i>", "hi all"), ("html-name", "Eve</b><b>Mallory", "hi all"),
    ("as-typed", *AS_TYPED), ("as-typed", "&amp;", "&lt;b&gt;"), ("as-typed", "{}", "{0} {name}"),
    ("as-typed", "%s", "100% %(name)s"), ("as-typed", "'single'", '"double"'),
    ("as-typed", "a\\b", "&#60;3"), ("as-typed", "{0}", "{}"),
]


class _Markup(html.parser.HTMLParser):
    """What a browser makes of a piece of HTML: the elements, and the text inside each."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[str, ...]]] = []  # (tag, attribute names)
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.text: list[tuple[tuple[str, ...], str]] = []  # (open tags, text)
        self._open: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.elements.append((tag, tuple(name for name, _ in attrs)))
        self.attributes.extend((tag, name, value or "") for name, value in attrs)
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        self.text.append((tuple(self._open), data))

    def shown(self, inside: str | None = None) -> str:
        """The text a reader sees (inside one tag, if given), spaces as a browser shows them."""
        return _seen("".join(data for tags, data in self.text if inside is None or inside in tags))


def _seen(text: str) -> str:
    return " ".join(text.split())


class _Lines(Play):
    def __init__(self, render: Callable[[dict], Any]):
        self.render = render
        self.facts: dict[str, Any] = {}
        self.last_sent: dict[str, list[Any]] = {}

    def expect(self, step: Step) -> list[Alternative]:
        name, text = step.args
        return [Alternative({"the line": [f"<li><b>{name}: </b>{text}</li>"],
                             "a reader sees": [_seen(f"{name}: {text}")],
                             "in <b>": [True], "markup": [True]})]

    def do(self, step: Step, trace: bool = False) -> Outcome:
        name, text = step.args
        path: list[str] = []
        with Tracer() if trace else _Nothing() as path:
            plain, markup = self.render(chat(*PLAIN)), self.render(chat(name, text))
        observed: dict[str, list[Any]] = {"the line": [f"<li><b>{name}: </b>{text}</li>"]}
        if not isinstance(markup, str) or not isinstance(plain, str):
            bad = markup if not isinstance(markup, str) else plain
            observed["the line"] = [f"not a str: {bad!r}"]
            return Outcome({}, path=path, observed=observed)
        base, line = _Markup(plain), _Markup(markup)
        tags = [tag for tag, _ in base.elements]
        if tags[:1] != ["li"] or "b" not in tags:
            observed["the line"] = [f"{markup}    (tags: {[t for t, _ in line.elements]})"]
            self.facts = {"structure": False}
            return Outcome({}, path=path, observed=observed)
        self.facts = {"structure": True}
        observed["a reader sees"] = [line.shown()]  # all of it: text after the li shows too
        bold = line.shown("b")
        observed["in <b>"] = [bold in (_seen(name), _seen(name) + ":")]
        same_markup = line.elements == base.elements and all(
            value == _typed(plain_value, name, text)
            for (_, _, value), (_, _, plain_value) in zip(line.attributes, base.attributes))
        observed["markup"] = [same_markup]
        self.markups = (plain, markup, base, line)
        return Outcome({}, path=path, observed=observed)


class _Nothing:
    def __enter__(self) -> list[str]:
        return []

    def __exit__(self, *exc_info: Any) -> None:
        pass


def _typed(plain_value: str, name: str, text: str) -> str:
    """An attribute value of your plain line, with the typed name and text in place."""
    return plain_value.replace(PLAIN[0], "\0name\0").replace(PLAIN[1], "\0text\0") \
        .replace("\0name\0", name).replace("\0text\0", text)


_TAGS = ["plain", "html-text", "html-name", "as-typed"]


class RenderChecks(Exercise):
    """Notebook 5: render(message) -> the original's line, user text escaped."""

    key = "render"
    title = "step 5: user text is text"
    behaviours = [
        Behaviour("a chat line is <li><b>NAME: </b>TEXT</li>", "render",
                  "the original's line: an li, the name in a b with its colon, then the text --"
                  " escape each piece of user text, not the whole line (the tags are yours)"),
        Behaviour("HTML in the text is shown as text, never run", "escape",
                  "escape every piece of user text before it goes into HTML: html.escape"),
        Behaviour("HTML in the name is shown as text, never run", "escape",
                  "escape every piece of user text before it goes into HTML -- with its quotes"
                  " (html.escape's default) when it goes inside an attribute's quotes"),
        Behaviour("& < > and quotes show as typed", "as-typed",
                  "escape & too, and first (html.escape does), once, not twice -- and never put"
                  " user text where it is read as a format string ({} or %s)"),
    ]

    def begin(self, subject: Any) -> Play:
        return _Lines(subject)

    def sessions(self) -> list[list[Step]]:
        return [[Step("render", "render", (name, text), tag)] for tag, name, text in MESSAGES]

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        if not mismatch.facts.get("structure", True) or mismatch.outcome.raised is not None \
                and mismatch.step.tag == "plain":
            return 0
        return _TAGS.index(mismatch.step.tag)

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        return (_TAGS.index(steps[index].tag),)

    def say(self, steps: list[Step], index: int, names: dict[str, str]) -> str:
        import json

        name, text = steps[index].args
        return f"render({json.dumps(chat(name, text), ensure_ascii=False)})"

    def describe(self, key: str, want: list[Any], have: list[Any], at: str,
                 names: dict[str, str]) -> list[str] | None:
        if key == "the line":
            return [f"{at}, render did not return the line: {have[0] if have else None}",
                    f"expected: {want[0]}"]
        if key == "a reader sees":
            return [f"{at}, a reader sees: {have[0] if have else ''}", f"expected:      {want[0]}"]
        if key == "in <b>":
            return [f"{at}, the name is not what the <b> shows"]
        if key == "markup":
            return [f"{at}, the user's text became markup (tags or attributes of its own):"
                    " a browser would run it"]
        return None



run_render, check_render = engine_step(
    RenderChecks(),
    "Step 5: rendering a chat line safely.",
    "Print the step 5 checks for rendering user text safely.",
)
