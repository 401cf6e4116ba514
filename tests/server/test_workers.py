"""``python -m chatkit serve --workers N`` (``chatkit.server.workers``): processes behind one port.

The supervisor hands each client's connections to one worker; a room stays one because
Redis holds the members of all of them. (Restarts, caps and budgets across workers:
test_workers_supervisor.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal

import pytest
import redis as redis_py
from websockets.asyncio.client import connect

from chatkit.redis.local import redis_program, start_redis
from tests.helpers.chat import joined, recv_until, say
from tests.helpers.processes import SERVING, ChatkitServe, Process
from tests.helpers.redis import PRESENCE
from tests.helpers.sockets import free_port, port_is_free
from tests.helpers.waiting import run, wait_until

#: What the supervisor prints once every worker serves behind its port.
ONE_PORT = r"\d workers; each client's connections on one of them"


async def connect_from(address: str, url: str):
    """A client from ``address`` (another person, as far as the server can tell: all of
    127.0.0.0/8 is loopback on Linux)."""
    return await connect(url, local_addr=(address, 0), open_timeout=10, close_timeout=1)


async def joined_from(address: str, url: str, name: str):
    """A client from ``address``, joined to the room at ``url`` as ``name``."""
    client = await connect_from(address, url)
    await client.send(json.dumps({"type": "join", "name": name}))
    await recv_until(client, lambda m: m.get("text", "").startswith(f"{name} joined "))
    return client


def test_two_workers_share_one_port_and_one_room(redis_server):
    """``serve --workers 2``: the supervisor hands each client's connections to one
    worker (by its address: twelve students, eight addresses); Redis holds members of both."""
    with ChatkitServe("--redis", redis_server.url, "--presence-timeout", str(PRESENCE),
                      "--workers", "2").wait_serving() as parent:

        async def body():
            await parent.printed(ONE_PORT)
            port = int(SERVING.findall(parent.output)[-1][1])
            url = f"ws://127.0.0.1:{port}/chat/people"
            clients = [await joined_from(f"127.0.0.{30 + i % 8}", url, f"student{i}")
                       for i in range(12)]
            names = redis_py.Redis.from_url(redis_server.url, decode_responses=True).hgetall(
                "chatkit:names:people")
            servers = {value.split(" ")[1].split(":")[0] for value in names.values()}
            assert len(names) == 12 and len(servers) == 2, names  # both workers got members
            await say(clients[0], "hello, both workers")
            for client in clients:
                await recv_until(client, lambda m: m.get("text") == "hello, both workers")
                await client.close()

        run(body)
    assert "chatkit: stopped" in parent.output
    assert parent.output.count("exited with code 0") == 2



def test_with_no_per_client_limit_the_workers_take_connections_in_turn(redis_server):
    """``--no-client-limit --max-per-client 0`` (a class behind one address): nothing to
    keep together, so one address's connections go to the workers in turn."""
    with ChatkitServe("--redis", redis_server.url, "--presence-timeout", str(PRESENCE),
                      "--workers", "2", "--no-client-limit", "--max-per-client", "0",
                      "--quiet").wait_serving() as parent:
        parent.wait_for(ONE_PORT)
        port = int(SERVING.findall(parent.output)[-1][1])

        async def body():
            url = f"ws://127.0.0.1:{port}/chat/people"
            clients = [await joined_from("127.0.0.5", url, f"s{i}") for i in range(6)]
            names = redis_py.Redis.from_url(redis_server.url, decode_responses=True).hgetall(
                "chatkit:names:people")
            servers = {value.split(" ")[1].split(":")[0] for value in names.values()}
            assert len(names) == 6 and len(servers) == 2, names
            for client in clients:
                await client.close()

        run(body)


def _argv(pid: int) -> str:
    """What any user of the machine can read of a process: its command line (``ps``)."""
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().replace(b"\0", b" ").decode()


@contextlib.contextmanager
def redis_with_password(tmp_path, password: str):
    """A real redis-server that asks for ``password``, told it in a config file (mode 600)."""
    port = free_port()
    config = tmp_path / "redis.conf"
    config.write_text(f"port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\n"
                      f"requirepass {password}\n")
    config.chmod(0o600)
    with Process([redis_program(), str(config)], name="redis-server") as server:
        wait_until(lambda: not port_is_free(port), "redis-server listening")
        yield f"redis://:{password}@127.0.0.1:{port}"
        server.stop()


def test_no_class_code_or_redis_password_in_any_command_line_or_log_line(tmp_path):
    """``ps`` shows every process's argv to every user: the workers get the class code and
    the Redis URL (with its password) in their environment instead; logs show ``***``."""
    password = "s3cret-redis-pw"
    with redis_with_password(tmp_path, password) as url:
        code_file = tmp_path / "class-code"
        code_file.write_text("k7f3-q9x2-from-a-file\n")
        env = {**os.environ, "CHATKIT_REDIS_URL": url}
        with ChatkitServe("--workers", "2", "--class-code-file", str(code_file), "--redis",
                          "--presence-timeout", str(PRESENCE), env=env).wait_serving() as parent:

            async def body():
                await parent.printed(ONE_PORT)
                port = int(SERVING.findall(parent.output)[-1][1])
                pids = {int(pid) for pid in re.findall(r"\[worker \d pid (\d+)\]", parent.output)}
                assert len(pids) == 2, parent.output
                for pid in (parent.pid, *pids):
                    seen = _argv(pid)
                    assert password not in seen and "k7f3-q9x2" not in seen, seen
                url = f"ws://127.0.0.1:{port}/chat/people?code=k7f3-q9x2-from-a-file"
                clients = [await joined(url, f"student{i}") for i in range(4)]
                await say(clients[0], "in, with the code from the file")
                for client in clients:
                    await recv_until(client, lambda m: m.get("text", "").startswith("in, with"))
                    await client.close()

            run(body)
        assert "chatkit: stopped" in parent.output
        # A generated code, and the Redis URL typed on the parent's command line (the
        # user's own choice): neither reaches a worker's command line, nor any log line.
        with ChatkitServe("--workers", "2", "--class-code", "--redis", url).wait_serving() as typed:
            typed.wait_for(ONE_PORT)
            code = re.search(r"class code (\S+):", typed.output)[1]
            pids = {int(pid) for pid in re.findall(r"\[worker \d pid (\d+)\]", typed.output)}
            assert len(pids) == 2, typed.output
            for pid in pids:
                seen = _argv(pid)
                assert password not in seen and code not in seen, seen
            assert "redis://:***@127.0.0.1:" in typed.output
    for output in (parent.output, typed.output):
        assert password not in output, output


def test_a_local_redis_with_a_password_reads_it_from_a_pipe_not_its_command_line():
    """``start_redis(password=...)``: redis-server's argv (and its retitled process name)
    never holds the password, Redis asks for it, and a server given the URL by
    ``$CHATKIT_REDIS_URL`` shows it as ``***`` in every line it prints."""
    password = "pw-only-the-teacher-knows"
    with start_redis(password=password) as redis_server:
        assert password not in _argv(redis_server.pid)
        assert redis_server.url.startswith(f"redis://:{password}@127.0.0.1:")
        assert password not in repr(redis_server) and ":***@" in repr(redis_server)
        with pytest.raises(redis_py.AuthenticationError):
            redis_py.Redis(port=redis_server.port).ping()  # no password: refused
        assert redis_py.Redis.from_url(redis_server.url).ping()
        env = {**os.environ, "CHATKIT_REDIS_URL": redis_server.url}
        with ChatkitServe("--redis", env=env).wait_serving() as server:
            assert password not in _argv(server.pid)

            async def body():
                ann = await joined(server.ws_url("people"), "Ann")
                await say(ann, "through a Redis with a password")
                await recv_until(ann, lambda m: m.get("text") == "through a Redis with a password")
                await ann.close()

            run(body)
            server.stop(signal.SIGINT)
        assert "rooms shared through Redis at redis://:***@127.0.0.1:" in server.output
        assert password not in server.output
