"""``python -m chatkit serve`` as a real subprocess: it prints where it is, serves, stops on Ctrl-C."""

from __future__ import annotations

import signal
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.frames import CloseCode

from chatkit.server.cli import parse_args
from tests.helpers.chat import closed_with, recv_json, say
from tests.helpers.processes import ChatkitServe, Process
from tests.helpers.waiting import DEADLINE, run


def test_serve_prints_its_address_serves_a_room_and_stops_on_ctrl_c():
    async def chat(url):
        async with connect(url, open_timeout=DEADLINE) as ws:
            await ws.send('{"type": "join", "name": "Colt"}')
            assert await recv_json(ws) == {"type": "note", "text": 'Colt joined "people".'}
            await say(ws, "hi from a script")
            assert await recv_json(ws) == {"type": "chat", "name": "Colt", "text": "hi from a script"}

    with ChatkitServe().wait_serving() as server:
        assert server.host == "127.0.0.1" and server.port > 0
        assert server.page_url == f"http://127.0.0.1:{server.port}/people"
        run(lambda: chat(f"ws://127.0.0.1:{server.port}/chat/people"))
        assert server.stop(signal.SIGINT) == 0
    assert "chatkit: stopped" in server.output
    assert "Colt joined 'people'" in server.output  # the activity log goes to stdout


def test_sigterm_stops_it_cleanly_too_and_the_port_is_free_after():
    with ChatkitServe("--quiet", "--room", "my room").wait_serving() as server:
        assert server.stop(signal.SIGTERM) == 0 and "chatkit: stopped" in server.output
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", server.port))  # would raise if the port were still held


def test_the_printed_room_is_percent_encoded_in_the_link():
    with ChatkitServe("--room", "my room").wait_serving() as server:
        assert server.page_url == f"http://127.0.0.1:{server.port}/my%20room"


def test_a_busy_port_gives_a_clear_message_and_exit_code_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with Process.python("-m", "chatkit", "serve", "--port", str(port)) as cli:
            assert cli.wait(3 * DEADLINE) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in cli.output
    assert "in use" in cli.output
    assert "Traceback" not in cli.output


@pytest.mark.parametrize("flag, expected", [([], ""), (["--compression", "shared"],
                                                        "server_no_context_takeover")])
def test_the_command_line_server_takes_the_compression_policy(flag, expected):
    async def answered(url) -> str:
        async with connect(url, open_timeout=DEADLINE) as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            await ws.send('{"type": "join", "name": "Colt"}')
            assert (await recv_json(ws))["type"] == "note"
        return extensions

    with ChatkitServe(*flag).wait_serving() as server:
        extensions = run(lambda: answered(server.ws_url("people")))
    assert (expected in extensions) if expected else extensions == ""


def test_defaults_are_this_machine_only_port_3000_room_people():
    args = parse_args(["serve"])
    assert (args.host, args.port, args.room) == ("127.0.0.1", 3000, "people")


def test_no_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exited:
        parse_args([])
    assert exited.value.code == 2


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(port, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(["serve", "--port", port])
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_the_command_line_flags_set_the_limits_and_the_allowed_origins():
    async def body(url):
        hub = await connect(url, origin="https://hub.example.org", open_timeout=DEADLINE)
        with pytest.raises(InvalidStatus):
            await connect(url, origin="https://evil.example", open_timeout=DEADLINE)
        lurker = await connect(url, open_timeout=DEADLINE)  # the second of two
        third = await connect(url, open_timeout=DEADLINE)
        assert (await closed_with(third))[0] == CloseCode.TRY_AGAIN_LATER
        code, reason = await closed_with(lurker)
        assert code == CloseCode.POLICY_VIOLATION and "no join within 0.5 s" in reason
        await hub.close()

    with ChatkitServe("--origin", "https://hub.example.org", "--max-per-client", "2",
                      "--join-timeout", "0.5").wait_serving() as server:
        run(lambda: body(server.ws_url("people")))
        assert server.stop(signal.SIGINT) == 0
