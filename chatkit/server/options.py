"""The options of ``python -m chatkit serve``, written once: :data:`OPTIONS`.

From this one table come the command line (:func:`add_options`, so ``--help`` shows
the real defaults), the :class:`~chatkit.server.ChatServer` keywords a command line
stands for (:func:`server_options`) and the command line each worker of
``--workers N`` gets (:func:`worker_argv`; its secrets -- the class code, the Redis
URL with its password -- go by :func:`worker_env` instead: a command line is readable by
every user of the machine, in ``ps`` and ``/proc/<pid>/cmdline``, an environment only
by its owner). A default is never written here: it is
read from the signature of the server class given (``ChatServer``: its defaults are
the named constants of :mod:`chatkit.core.limits`) -- change a constant and the
command line follows::

    >>> from chatkit.core.limits import JOIN_TIMEOUT
    >>> from chatkit.server import ChatServer
    >>> args = parse([], ChatServer)
    >>> args.join_timeout == JOIN_TIMEOUT
    True
    >>> args = parse(["--max-per-client", "0", "--origin", "https://hub.example.org"], ChatServer)
    >>> server_options(args)["max_per_client"], server_options(args)["origins"]
    (None, ['https://hub.example.org'])

"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
from typing import Any, Callable

from ..core.limits import ClientLimit, RateLimit

__all__ = ["Option", "OPTIONS", "option", "add_options", "server_options", "worker_argv",
           "worker_env", "read_secrets", "server_defaults", "port_number", "LIMITS",
           "CLASS_CODE_ENV", "REDIS_URL_ENV"]

#: An option's value that stands for no keyword at all (the server's default applies).
OMIT: Any = object()
#: Where ``--class-code`` and ``--redis`` given with no value read their secret; where a
#: worker of ``--workers N`` gets it (never on its command line).
CLASS_CODE_ENV = "CHATKIT_CLASS_CODE"
REDIS_URL_ENV = "CHATKIT_REDIS_URL"
#: The group of options about limits and who may connect, as ``--help`` shows it.
LIMITS = "limits and who may connect"


def server_defaults(server: type) -> dict[str, Any]:
    """The keyword defaults of a server class and of its ``serve`` (``host``, ``port``).

    >>> from chatkit.server import ChatServer
    >>> server_defaults(ChatServer)["port"]
    3000

    """
    found = {}
    for function in (server, server.serve):
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                found[name] = parameter.default
    return found


def _in_range(text: str, convert: Callable[[str], Any], low: Any, high: Any, wanted: str) -> Any:
    """``convert(text)`` if it is from ``low`` to ``high``, else argparse's error saying ``wanted``."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not low <= value <= high:  # (nan is in no range)
        raise argparse.ArgumentTypeError(f"{wanted}, got {value}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    return _in_range(text, int, 0, 65535, "a port is 0 to 65535")


def _count(text: str) -> int:
    """A whole number, 0 or more (``--history``)."""
    return _in_range(text, int, 0, sys.maxsize, "0 or more")


def _seconds(text: str) -> float:
    """Seconds, 0 or more and finite (``--history-seconds``)."""
    return _in_range(text, float, 0.0, sys.float_info.max, "0 or more seconds")


def _none_if_zero(value: Any) -> Any:
    return value or None


def _off_is_none(value: str) -> str | None:
    return None if value == "off" else value


def _shown(value: Any) -> str:
    """A default as ``--help`` shows it: ``60`` for 60.0, ``off`` for None."""
    if isinstance(value, float):
        return f"{value:g}"
    return "off" if value is None else str(value)


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of ``python -m chatkit serve``.

    ``keyword``: the :class:`ChatServer` keyword it sets (None: the command line's own),
    through ``to_server`` (the command line's value -> the keyword's; :data:`OMIT`
    for none). ``default``: the command line's own default, unless ``default_from``
    names the server keyword (or ``serve``'s) whose default it is. ``needs``: passed
    to the server only when that other option is set. ``workers``: passed on, as
    given, to each worker of ``--workers N``. ``env``: a secret -- the flag given with
    no value reads it from this environment variable, and a worker gets it there,
    never in its command line. ``help`` may say ``{default}``: the default as it
    reads (``60`` for 60.0, ``off`` for None).
    """

    flag: str
    help: str
    keyword: str | None = None
    default: Any = None
    default_from: str | None = None
    type: Callable[[str], Any] | None = None
    action: str | None = None  # "store_true", "append"
    nargs: str | None = None
    const: Any = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    group: str = ""
    hidden: bool = False
    to_server: Callable[[Any], Any] | None = None
    needs: str | None = None
    workers: bool = True
    env: str | None = None

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    def argument(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """``add_argument``'s keywords for this option, its default read from ``defaults``."""
        default = defaults[self.default_from] if self.default_from else self.default
        if self.choices is not None and default not in self.choices:
            default = _shown(default)  # compression=None is the choice "off"
        spec: dict[str, Any] = {"help": argparse.SUPPRESS if self.hidden
                                else self.help.format(default=_shown(default))}
        if self.action == "store_true":
            spec["action"] = "store_true"
            return spec
        spec["default"] = [] if self.action == "append" else default
        for key in ("action", "type", "nargs", "const", "choices", "metavar"):
            if getattr(self, key) is not None:
                spec[key] = getattr(self, key)
        return spec


OPTIONS: tuple[Option, ...] = (
    Option("--host", "address to listen on (default {default}: this machine only;"
           " 0.0.0.0 lets the whole network in, e.g. a class)", default_from="host"),
    Option("--port", "port (default {default}; 0: any free port)", type=port_number,
           default_from="port", workers=False),  # each worker's own
    Option("--room", "room whose page address is printed (default {default})", default="people"),
    Option("--random-every", "seconds between numbers on the /random demo route"
           " (default {default})", keyword="random_every", type=float,
           default_from="random_every", metavar="SECONDS"),
    Option("--class-code", "let in only those who know this code, 8 characters or more"
           f" (none given: ${CLASS_CODE_ENV} if set, else a code made up); for a class on a"
           " shared network", nargs="?", const="", metavar="CODE", env=CLASS_CODE_ENV),
    Option("--class-code-file", "the class code, read from this file (kept out of the"
           " command line, which every user of the machine can see)", metavar="PATH",
           workers=False),
    Option("--quiet", "print only errors", action="store_true"),
    Option("--origin", "a web origin allowed to open chats besides the server's own,"
           " e.g. https://hub.example.org (repeatable)", keyword="origins", action="append",
           metavar="URL", group=LIMITS, to_server=list),
    Option("--host-name", "a host name this server answers to when bound to 127.0.0.1"
           " besides localhost (repeatable)", keyword="hosts", action="append", metavar="NAME",
           group=LIMITS, to_server=list),
    Option("--max-connections", "open connections at most (default: from the file limit)",
           keyword="max_connections", type=int, default_from="max_connections", metavar="N",
           group=LIMITS),
    Option("--max-per-client", "open connections per client address at most (default {default};"
           " 0: no cap)", keyword="max_per_client", type=int, default_from="max_per_client",
           metavar="N", group=LIMITS, to_server=_none_if_zero),
    Option("--no-client-limit", "no budget shared by all the connections of one client address"
           f" (by default {ClientLimit().describe()}; off: e.g. many people behind one"
           " address, or a load test from one machine); each connection keeps its own rate"
           f" limit ({RateLimit().describe()})", keyword="client_limit", action="store_true",
           group=LIMITS, to_server=lambda off: None if off else OMIT),
    Option("--join-timeout", "close a chat connection that has not joined by then"
           " (default {default}; 0: never)", keyword="join_timeout", type=float,
           default_from="join_timeout", metavar="SECONDS", group=LIMITS,
           to_server=_none_if_zero),
    Option("--history", "messages each room keeps for clients that resume or ask for the"
           " history, and for transcripts (default {default}; 0: none)", keyword="history",
           type=_count, default_from="history", metavar="N"),
    Option("--history-seconds", "... and for this long at most (default {default}; 0: however"
           " old)", keyword="history_seconds", type=_seconds, default_from="history_seconds",
           metavar="SECONDS", to_server=_none_if_zero),
    Option("--redis", "share rooms with every server on this Redis (e.g. redis://127.0.0.1:6379;"
           f" none given: ${REDIS_URL_ENV}, which keeps a password out of the command line;"
           " see docs/redis.md)", keyword="redis", metavar="URL", nargs="?", const="",
           to_server=lambda url: url or OMIT, env=REDIS_URL_ENV),
    Option("--workers", "run N server processes behind one port, each client's connections"
           " on one of them; a dead one is restarted (needs --redis)", type=int,
           default=1, metavar="N", workers=False),
    Option("--presence-timeout", "with --redis: a server silent this long is taken for dead and"
           " its members are announced as gone (default {default})",
           keyword="presence_timeout", type=float, default_from="presence_timeout",
           metavar="SECONDS", needs="redis"),
    Option("--worker", "", default="", hidden=True, workers=False),  # set by --workers
    # set by --workers: the file descriptor of the channel its supervisor hands sockets down
    Option("--handoff", "", type=int, hidden=True, workers=False),
    Option("--compression", "answer the browsers' permessage-deflate offer: off (as Node's ws),"
           " shared (once per broadcast) or deflate (once per member); default {default}",
           keyword="compression", choices=("off", "shared", "deflate"),
           default_from="compression", to_server=_off_is_none),
)


def option(flag: str) -> Option:
    """The option spelled ``flag`` (``"--join-timeout"``)."""
    for entry in OPTIONS:
        if entry.flag == flag:
            return entry
    raise KeyError(flag)


def add_options(parser: argparse.ArgumentParser, server: type) -> None:
    """Add every option of :data:`OPTIONS` to ``parser``, with the defaults of ``server``
    (the :class:`ChatServer` class; groups as ``--help`` shows them)."""
    defaults = server_defaults(server)
    groups: dict[str, Any] = {"": parser}
    for entry in OPTIONS:
        if entry.group not in groups:
            groups[entry.group] = parser.add_argument_group(entry.group)
        groups[entry.group].add_argument(entry.flag, **entry.argument(defaults))


def parse(argv: list[str], server: type) -> argparse.Namespace:
    """``serve``'s options alone, parsed (for a doctest or a test)."""
    parser = argparse.ArgumentParser(prog="serve")
    add_options(parser, server)
    return parser.parse_args(argv)


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`ChatServer` keywords a parsed command line stands for."""
    keywords = {}
    for entry in OPTIONS:
        if entry.keyword is None or (entry.needs and not getattr(args, entry.needs)):
            continue
        value = getattr(args, entry.dest)
        value = entry.to_server(value) if entry.to_server is not None else value
        if value is not OMIT:
            keywords[entry.keyword] = value
    return keywords


def read_secrets(args: argparse.Namespace, environ: Any) -> None:
    """Fill in the secrets a command line left out: ``--class-code-file PATH``'s code, and
    ``--class-code`` / ``--redis`` given with no value from their environment variables
    (:data:`CLASS_CODE_ENV`, :data:`REDIS_URL_ENV`). Raises ValueError, saying what to do.

    >>> args = parse(["--redis", "--class-code"], __import__("chatkit.server").server.ChatServer)
    >>> read_secrets(args, {"CHATKIT_REDIS_URL": "redis://:pw@10.0.0.2:6379"})
    >>> args.redis, args.class_code        # the class code stays "": made up later
    ('redis://:pw@10.0.0.2:6379', '')

    """
    path = getattr(args, "class_code_file", None)
    if path:
        if args.class_code is not None:
            raise ValueError("give --class-code or --class-code-file, not both")
        try:
            with open(path, encoding="utf-8") as file:
                code = file.read(1024).strip()
        except OSError as exc:
            raise ValueError(f"cannot read the class code from {path}: {exc.strerror or exc}")
        if not code:
            raise ValueError(f"the class code file {path} is empty")
        args.class_code = code
    for entry in OPTIONS:
        if entry.env is not None and getattr(args, entry.dest) == "" and environ.get(entry.env):
            setattr(args, entry.dest, environ[entry.env].strip())
    if args.redis == "":
        raise ValueError(f"--redis with no URL reads it from ${REDIS_URL_ENV}, which is not set")


def worker_env(args: argparse.Namespace) -> dict[str, str]:
    """The secrets each worker of ``--workers N`` gets in its environment, not its
    command line: ``{"CHATKIT_CLASS_CODE": ..., "CHATKIT_REDIS_URL": ...}``."""
    return {entry.env: getattr(args, entry.dest) for entry in OPTIONS
            if entry.env is not None and entry.workers and getattr(args, entry.dest)}


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The options each worker of ``--workers N`` gets: every one given, as given, but
    ``--port``, ``--workers`` and the workers' own (``--worker``, ``--handoff``);
    a secret (``--class-code``, ``--redis``) as its flag alone, its value in
    :func:`worker_env`."""
    argv = []
    for entry in OPTIONS:
        if not entry.workers:
            continue
        value = getattr(args, entry.dest)
        if entry.env is not None:
            argv += [entry.flag] if value is not None else []
        elif entry.action == "store_true":
            argv += [entry.flag] if value else []
        elif entry.action == "append":
            argv += [f"{entry.flag}={item}" for item in value]
        elif value is not None:
            argv.append(f"{entry.flag}={value}")  # "=": a value may start with "-"
    return argv
