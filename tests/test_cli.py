"""``python -m chatkit serve`` as a real subprocess: it prints where it is, serves, stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys

import pytest
from websockets.asyncio.client import connect

from chatkit.server.cli import parse_args
from chat_helpers import DEADLINE, recv_json, run, say

SERVING = re.compile(r"chatkit: serving on (\S+):(\d+)")
OPEN = re.compile(r"chatkit: open (http://\S+)")


async def start_cli(*args):
    """Start ``python -m chatkit serve --port 0 ...``; return (process, host, port, page url)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatkit", "serve", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    host = port = page = None
    async with asyncio.timeout(DEADLINE):
        while page is None:
            line = (await process.stdout.readline()).decode()
            assert line, f"the CLI exited early: {(await process.stderr.read()).decode()}"
            if match := SERVING.search(line):
                host, port = match[1], int(match[2])
            if match := OPEN.search(line):
                page = match[1]
    return process, host, port, page


async def stop_cli(process, sig=signal.SIGINT):
    """Send ``sig``; return (exit code, the rest of stdout)."""
    process.send_signal(sig)
    async with asyncio.timeout(DEADLINE):
        rest, _ = await process.communicate()
    return process.returncode, rest.decode()


def test_serve_prints_its_address_serves_a_room_and_stops_on_ctrl_c():
    async def body():
        process, host, port, page = await start_cli()
        try:
            assert host == "127.0.0.1" and port > 0
            assert page == f"http://127.0.0.1:{port}/people"
            async with connect(f"ws://127.0.0.1:{port}/chat/people", open_timeout=DEADLINE) as ws:
                await ws.send('{"type": "join", "name": "Colt"}')
                assert await recv_json(ws) == {"type": "note", "text": 'Colt joined "people".'}
                await say(ws, "hi from a script")
                assert await recv_json(ws) == {
                    "type": "chat", "name": "Colt", "text": "hi from a script"}
            code, rest = await stop_cli(process)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert code == 0
        assert "chatkit: stopped" in rest
        assert "Colt joined 'people'" in rest  # the activity log goes to stdout

    run(body, timeout=15)


def test_sigterm_stops_it_cleanly_too_and_the_port_is_free_after():
    async def body():
        process, _, port, _ = await start_cli("--quiet", "--room", "my room")
        code, rest = await stop_cli(process, signal.SIGTERM)
        assert code == 0 and "chatkit: stopped" in rest
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # would raise if the port were still held

    run(body, timeout=15)


def test_the_printed_room_is_percent_encoded_in_the_link():
    async def body():
        process, _, port, page = await start_cli("--room", "my room")
        try:
            assert page == f"http://127.0.0.1:{port}/my%20room"
        finally:
            await stop_cli(process)

    run(body, timeout=15)


def test_a_busy_port_gives_a_clear_message_and_exit_code_1():
    async def body():
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "chatkit", "serve", "--port", str(port),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            async with asyncio.timeout(DEADLINE):
                out, err = await process.communicate()
        assert process.returncode == 1
        message = err.decode()
        assert f"cannot listen on 127.0.0.1:{port}" in message
        assert "in use" in message
        assert "Traceback" not in message + out.decode()

    run(body, timeout=15)


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
