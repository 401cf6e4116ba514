"""The message-flow picture of rooms shared through Redis: which server carried what.

Each :class:`~chatkit.redis.hub.RedisHub` records what it published and what Redis
brought it (``hub.flow``). :func:`flows` pairs them up, one row per message;
:func:`draw_flow` draws them: an arrow from the server that published a message to
Redis, and from Redis to every server that delivered it, with how many members there
got it::

    fig = draw_flow([a.server.hub, b.server.hub], names=["A", "B"])

"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Sequence

__all__ = ["Message", "flows", "draw_flow"]


@dataclasses.dataclass
class Message:
    """One message's way: who published it, and how many members each server gave it to."""

    text: str  # the JSON message
    origin: str  # the name of the server that published it (or delivered it alone)
    delivered: dict[str, int]  # server name -> members there that got it
    through_redis: bool = True  # False: Redis was away, its server delivered it alone

    @property
    def label(self) -> str:
        """``Ann: hi`` or ``(note) Ann joined "people".`` -- short enough for a picture."""
        try:
            data = json.loads(self.text)
        except ValueError:
            return self.text[:40]
        if data.get("type") == "chat":
            label = f"{data.get('name')}: {data.get('text')}"
        else:
            label = f"({data.get('type')}) {data.get('text')}"
        return label if len(label) <= 40 else label[:39] + "…"


def flows(hubs: Sequence[Any], names: Sequence[str] | None = None,
          room: str | None = None) -> list[Message]:
    """The messages the ``hubs`` carried, in the order they were published."""
    names = list(names or [hub.name for hub in hubs])
    name_of = {hub.sid: name for hub, name in zip(hubs, names)}
    records = sorted((record for hub in hubs for record in hub.flow
                      if room is None or record.room == room), key=lambda r: r.time)
    messages: list[Message] = []
    waiting: dict[tuple[str, str], list[Message]] = {}  # (origin, text) -> not yet delivered everywhere
    for record in records:
        origin = name_of.get(record.origin, record.origin[:6])
        server = name_of.get(record.server, record.server[:6])
        if record.action == "publish":
            message = Message(record.text, origin, {})
            messages.append(message)
            waiting.setdefault((origin, record.text), []).append(message)
        elif record.action == "local":
            messages.append(Message(record.text, server, {server: record.count}, False))
        elif record.action == "deliver":
            queue = waiting.get((origin, record.text), [])
            message = next((m for m in queue if server not in m.delivered), None)
            if message is None:  # published before the record began, or by another server
                message = Message(record.text, origin, {})
                messages.append(message)
                queue.append(message)
                waiting[(origin, record.text)] = queue
            message.delivered[server] = record.count
    return messages


def draw_flow(hubs: Sequence[Any], names: Sequence[str] | None = None, *,
              room: str | None = None, last: int = 14) -> Any:
    """Draw the last ``last`` messages: server -> Redis -> servers; return the figure."""
    import matplotlib.pyplot as plt

    names = list(names or [hub.name for hub in hubs])
    messages = flows(hubs, names, room)[-last:]
    half = (len(names) + 1) // 2
    columns = names[:half] + ["Redis"] + names[half:]
    x = {column: i for i, column in enumerate(columns)}
    fig, ax = plt.subplots(figsize=(2.2 * len(columns) + 3, 0.45 * len(messages) + 1.2))
    for row, message in enumerate(messages):
        if message.through_redis:
            ax.annotate("", xy=(x["Redis"], row), xytext=(x[message.origin], row),
                        arrowprops={"arrowstyle": "->", "color": "tab:orange", "lw": 1.6})
            for server, count in message.delivered.items():
                if server in x:
                    ax.annotate("", xy=(x[server], row + 0.18), xytext=(x["Redis"], row + 0.18),
                                arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 1.2})
                    left = x[server] < x["Redis"]
                    ax.text(x[server] + (-0.04 if left else 0.04), row + 0.18, str(count),
                            va="center", ha="right" if left else "left", fontsize=8,
                            color="tab:blue")
        else:
            ax.plot(x[message.origin], row, "s", color="tab:red")
            ax.text(x[message.origin], row, "  here only (Redis away)", va="center",
                    fontsize=8, color="tab:red")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(messages)), [m.label for m in messages])
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(len(messages) - 0.4, -0.6)
    ax.xaxis.tick_top()
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Which server carried what: published (orange) and delivered (blue, with"
                 " how many members got it)", fontsize=9, pad=24)
    fig.tight_layout()
    return fig
