"""``python -m chatkit serve``'s options (chatkit.server.options): one table, the code's
defaults, and the same options for every worker of ``--workers N``."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chatkit.core import limits
from chatkit.server import ChatServer
from chatkit.server.app import DEFAULT_COMPRESSION, SERVER_KEYWORDS
from chatkit.server.cli import parse_args
from chatkit.server.options import OPTIONS, server_options, worker_argv, worker_env


def settings(server: ChatServer) -> dict:
    """What a server does, as far as its options go."""
    guard = server.guard
    return {"rate_limit": server.rate_limit, "random_every": server.random_every,
            "compression": server.compression, "max_buffer": server.max_buffer,
            "client_limit": guard.client_limit, "join_timeout": guard.join_timeout,
            "max_connections": guard.admission.max_connections,
            "max_per_client": guard.admission.max_per_client,
            "origins": guard.origins, "hosts": guard.hosts, "rooms": type(server.rooms)}


def test_the_command_line_without_options_builds_the_server_the_code_builds_by_default():
    assert settings(ChatServer(**server_options(parse_args(["serve"])))) == settings(ChatServer())


def test_help_shows_the_defaults_of_the_code():
    shown = subprocess.run([sys.executable, "-m", "chatkit", "serve", "--help"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())  # argparse wraps lines: one line, one space
    text = text[text.index(" options: "):]  # after the usage line

    def help_of(flag: str) -> str:
        return re.search(re.escape(flag) + r"(?: [A-Z{][^ ]*)? (.*?)(?= --[a-z]|$)", text)[1]

    assert f"default {limits.JOIN_TIMEOUT:g};" in help_of("--join-timeout")
    assert f"default {limits.MAX_PER_CLIENT};" in help_of("--max-per-client")
    assert limits.ClientLimit().describe() in help_of("--no-client-limit")
    assert limits.RateLimit().describe() in help_of("--no-client-limit")
    assert f"default {DEFAULT_COMPRESSION or 'off'}" in help_of("--compression")
    random_every = ChatServer().random_every
    assert f"(default {random_every:g})" in help_of("--random-every")


def test_every_option_reaches_each_worker_as_given(monkeypatch):
    given = ["serve", "--host", "0.0.0.0", "--room", "my room", "--random-every", "0.5",
             "--class-code", "k7f3-q9x2", "--quiet", "--origin", "https://a.example",
             "--origin=-odd", "--host-name", "chat.local", "--max-connections", "100",
             "--max-per-client", "0", "--no-client-limit", "--join-timeout", "0",
             "--redis", "redis://127.0.0.1:1", "--presence-timeout", "2.5",
             "--compression", "shared", "--workers", "3", "--port", "4000"]
    args = parse_args(given)
    # The secrets go by the environment, never the command line (anyone's, in ps).
    assert worker_env(args) == {"CHATKIT_CLASS_CODE": "k7f3-q9x2",
                                "CHATKIT_REDIS_URL": "redis://127.0.0.1:1"}
    assert not [arg for arg in worker_argv(args) if "k7f3" in arg or "redis://" in arg]
    for name, value in worker_env(args).items():
        monkeypatch.setenv(name, value)
    worker = parse_args(["serve", *worker_argv(args)])
    assert server_options(worker) == server_options(args)
    for name in ("host", "room", "class_code", "quiet"):
        assert getattr(worker, name) == getattr(args, name), name
    assert (worker.workers, worker.port) == (1, 3000)  # a worker runs one server, on its own port
    assert server_options(args)["compression"] == "shared"
    assert server_options(args)["origins"] == ["https://a.example", "-odd"]


def test_every_option_that_sets_a_server_keyword_names_a_real_one():
    keywords = {entry.keyword for entry in OPTIONS if entry.keyword is not None}
    assert keywords <= SERVER_KEYWORDS
    assert {"rate_limit", "on_event", "gate", "client_key"} <= SERVER_KEYWORDS


def test_secrets_can_stay_off_the_command_line_and_a_missing_one_says_what_to_do(
        tmp_path, monkeypatch, capsys):
    """``--class-code-file PATH``, ``$CHATKIT_CLASS_CODE`` and ``$CHATKIT_REDIS_URL`` (read
    when the flag comes with no value): nothing secret need be typed where ``ps`` shows it."""
    code_file = tmp_path / "code"
    code_file.write_text("  k7f3-q9x2-file \n")
    assert parse_args(["serve", "--class-code-file", str(code_file)]).class_code == "k7f3-q9x2-file"
    monkeypatch.setenv("CHATKIT_CLASS_CODE", "k7f3-q9x2-env")
    monkeypatch.setenv("CHATKIT_REDIS_URL", "redis://:pw@10.0.0.2:6379")
    args = parse_args(["serve", "--class-code", "--redis"])
    assert (args.class_code, args.redis) == ("k7f3-q9x2-env", "redis://:pw@10.0.0.2:6379")
    assert parse_args(["serve"]).class_code is None  # the variable alone turns nothing on
    monkeypatch.delenv("CHATKIT_REDIS_URL")
    for argv, says in ((["--redis"], "CHATKIT_REDIS_URL, which is not set"),
                       (["--class-code", "x", "--class-code-file", str(code_file)], "not both"),
                       (["--class-code-file", str(tmp_path / "nope")], "cannot read")):
        with pytest.raises(SystemExit) as refused:
            parse_args(["serve", *argv])
        assert refused.value.code == 2 and says in capsys.readouterr().err, argv
