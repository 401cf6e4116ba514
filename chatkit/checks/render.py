"""Step 5: a chat line rendered as HTML, with every piece of user text escaped.

The check parses what ``render`` returns the way a browser would, and compares it
with the structure the exercise asks for -- ``<li><b>NAME: </b>TEXT</li>`` -- not
with the student's own output: the tags, their attributes, and the text a reader sees.
"""

from __future__ import annotations

import html.parser
from typing import Any, Callable

from ..core.messages import chat
from .report import Fail, _step

__all__ = ["run_render", "check_render", "PAYLOAD"]

PAYLOAD = '<img src=x onerror="alert(document.cookie)">'
#: Names that break out of an attribute value written with double or single quotes.
QUOTE_PAYLOADS = ('Colt" onmouseover="alert(1)', "Colt' onmouseover='alert(1)")
AS_TYPED = ("Tom & Jerry", "1 < 2 && \"quotes\" 'too' -- &lt;b&gt; is how you write <b>")


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

    def shown(self, inside: str | None = None, outside: str | None = None) -> str:
        """The text a reader sees, optionally only inside one tag and outside another."""
        return "".join(data for tags, data in self.text
                       if (inside is None or inside in tags) and (outside is None or outside not in tags))


def _render_checks(render: Callable[[dict], str]) -> list[tuple[str, str, Callable[[], None]]]:
    def rendered(message: dict) -> _Markup:
        markup = render(message)
        if not isinstance(markup, str):
            raise Fail("render should return a str of HTML", "a str", repr(markup))
        return _Markup(markup)

    def name_and_text(markup: _Markup) -> tuple[str, str]:
        name = markup.shown(inside="b").strip().removesuffix(":").strip()
        text = markup.shown(inside="li", outside="b").strip().removeprefix(":").strip()
        return name, text

    def structure(name: str, text: str) -> _Markup:
        """Render chat(name, text) and insist on <li><b>NAME: </b>TEXT</li>."""
        markup = rendered(chat(name, text))
        has_tags(markup)
        shown_name, shown_text = name_and_text(markup)
        if (shown_name, shown_text) != (name, text):
            raise Fail("the name should be in <b>, the text after it, both shown as typed",
                       f"<b>{name}: </b>{text}",
                       f"<b>{shown_name}: </b>{shown_text}",
                       "the name goes inside <b>...</b>, the text after it")
        return markup

    def has_tags(markup: _Markup) -> None:
        tags = [tag for tag, _ in markup.elements]
        if tags[:1] != ["li"] or "b" not in tags:
            raise Fail("the line should be <li><b>NAME: </b>TEXT</li>: an li holding a b",
                       "tags: ['li', 'b']", f"tags: {tags}",
                       "escape each piece of user text, not the whole line: the tags are yours,"
                       " only the name and the text are the user's" if not tags else
                       "the original's line: f'<li><b>{name}: </b>{text}</li>'")

    def plain() -> None:
        structure("Colt", "hi all")

    def safe(field: str, payloads: tuple[str, ...]) -> Callable[[], None]:
        def test() -> None:
            baseline = structure("Colt", "hi all")
            for payload in payloads:
                message = chat("Colt", "hi all")
                message[field] = payload
                markup = rendered(message)
                if markup.elements != baseline.elements:
                    raise Fail(f"a {field} holding HTML became markup: the browser would run it",
                               f"the same tags and attributes as for plain text: {baseline.elements}",
                               f"{markup.elements}  (for the {field} {payload})",
                               "escape every piece of user text before it goes into HTML:"
                               " html.escape(...) -- with its quotes (the default) when it goes"
                               " inside an attribute's quotes")
                for (tag, attr, value), (_, _, plain_value) in zip(markup.attributes,
                                                                   baseline.attributes):
                    if plain_value == message_value(field, "Colt", "hi all") and value != payload:
                        raise Fail(f"the {field} in the {attr} attribute should be the characters"
                                   " typed", payload, value, "html.escape(...) it")
                shown = name_and_text(markup)[0 if field == "name" else 1]
                if shown != payload:
                    raise Fail(f"the {field} should show as the characters the user typed",
                               payload, shown, "html.escape(...) each piece of user text, once")
        return test

    def message_value(field: str, name: str, text: str) -> str:
        return name if field == "name" else text

    def as_typed() -> None:
        structure("Colt", "hi all")  # the tags first: without them, nothing else is right
        markup = rendered(chat(*AS_TYPED))
        shown = name_and_text(markup)
        if shown != AS_TYPED:
            raise Fail("& < > and quotes should show as typed", f"{AS_TYPED[0]}: {AS_TYPED[1]}",
                       f"{shown[0]}: {shown[1]}",
                       "escape & too, and first (html.escape does): &lt; typed by a user must"
                       " reach the browser as &amp;lt; -- and escape once, not twice")

    return [
        ("a chat line is <li><b>NAME: </b>TEXT</li>", "render", plain),
        ("HTML in the text is shown as text, never run", "escape", safe("text", (PAYLOAD,))),
        ("HTML in the name is shown as text, never run", "escape",
         safe("name", (PAYLOAD, *QUOTE_PAYLOADS))),
        ("& < > and quotes show as typed", "as-typed", as_typed),
    ]


run_render, check_render = _step(
    "step 5: user text is text", _render_checks,
    "Step 5: rendering a chat line safely.",
    "Print the step 5 checks for rendering user text safely.",
)
