"""Step 5: a chat line rendered as HTML, with every piece of user text escaped."""

from __future__ import annotations

import html.parser
from typing import Any, Callable

from ..messages import chat
from .report import Fail, _step

__all__ = ["run_render", "check_render", "PAYLOAD"]


class _Markup(html.parser.HTMLParser):
    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


PAYLOAD = '<img src=x onerror="alert(document.cookie)">'


def _render_checks(render: Callable[[dict], str]) -> list[tuple[str, Callable[[], None]]]:
    def rendered(message: dict) -> _Markup:
        markup = render(message)
        if not isinstance(markup, str):
            raise Fail("render should return a str of HTML", "a str", markup)
        return _Markup(markup)

    def plain() -> None:
        markup = rendered(chat("Colt", "hi all"))
        text = "".join(markup.text)
        if "Colt" not in text or "hi all" not in text:
            raise Fail("the line should show the name and the text", "Colt ... hi all", text)

    def safe(field: str) -> Callable[[], None]:
        def test() -> None:
            baseline = rendered(chat("Colt", "hi"))
            message = chat("Colt", "hi")
            message[field] = PAYLOAD
            markup = rendered(message)
            if markup.tags != baseline.tags:
                raise Fail(f"a {field} holding HTML became markup: the browser would run it",
                           f"the same tags as for plain text: {baseline.tags}", markup.tags,
                           "html.escape(...) every piece of user text before it goes into HTML")
            if PAYLOAD not in "".join(markup.text):
                raise Fail(f"the {field} should show as the characters the user typed",
                           PAYLOAD, "".join(markup.text))
        return test

    def ampersand() -> None:
        markup = rendered(chat("Tom & Jerry", "1 < 2 && \"quotes\" 'too'"))
        text = "".join(markup.text)
        if "Tom & Jerry" not in text or "1 < 2 && \"quotes\" 'too'" not in text:
            raise Fail("& < > and quotes should show as typed", "Tom & Jerry ... 1 < 2 && \"quotes\" 'too'",
                       text, "html.escape turns & into &amp; -- escape once, not twice")

    return [
        ("a chat line shows the name and the text", plain),
        ("HTML in the text is shown as text, never run", safe("text")),
        ("HTML in the name is shown as text, never run", safe("name")),
        ("& < > and quotes show as typed", ampersand),
    ]


run_render, check_render = _step(
    "step 5: user text is text", _render_checks,
    "Step 5: rendering a chat line safely.",
    "Print the step 5 checks for rendering user text safely.",
)
