"""Notebook 2: wrong route handlers ``chat(websocket, room)``, as students write them."""

from __future__ import annotations

import asyncio
import time

from .cases import wrong


def _w(kind, groups=()):
    return wrong("route", kind, groups)


@_w("ignores the room: always 'people'", {"route"})
async def route_ignores_room(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        await websocket.send(f"people: {message}")


@_w("never closes on bye", {"bye"})
async def route_never_closes(websocket, room):
    async for message in websocket:
        if message != "bye":
            await websocket.send(f"{room}: {message}")


@_w("answers after 3 s (asyncio.sleep)", {"route"})
async def route_answers_late(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        await asyncio.sleep(3)
        await websocket.send(f"{room}: {message}")


@_w("not async: def chat(...)", {"route", "bye", "disconnect"})
def route_not_async(websocket, room):
    for message in websocket:
        websocket.send(f"{room}: {message}")


@_w('bye by substring: "goodbye all" closes', {"bye"})
async def route_bye_substring(websocket, room):
    async for message in websocket:
        if "bye" in message:
            await websocket.close()
            return
        await websocket.send(f"{room}: {message}")


@_w("a recv() loop that lets ConnectionClosed escape (an ERROR per normal disconnect)",
    {"disconnect"})
async def route_recv_escapes(websocket, room):
    while True:
        message = await websocket.recv()
        if message == "bye":
            await websocket.close()
            return
        await websocket.send(f"{room}: {message}")


@_w("websocket.close() without await", {"bye"})
async def route_close_not_awaited(websocket, room):
    async for message in websocket:
        if message == "bye":
            websocket.close()
            return
        await websocket.send(f"{room}: {message}")


@_w("websocket.send() without await", {"route"})
async def route_send_not_awaited(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        websocket.send(f"{room}: {message}")


@_w("websocket.recv() without await", {"route"})
async def route_recv_not_awaited(websocket, room):
    message = websocket.recv()
    while message != "bye":
        await websocket.send(f"{room}: {message}")
        message = websocket.recv()
    await websocket.close()


@_w("keeps the welcome line of the first route", {"route"})
async def route_welcomes(websocket, room):
    await websocket.send(f"welcome to {room}")
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        await websocket.send(f"{room}: {message}")


@_w("closes with code 1001 on bye", {"bye"})
async def route_closes_going_away(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close(1001)
            return
        await websocket.send(f"{room}: {message}")


@_w("answers only the first message", {"route"})
async def route_answers_once(websocket, room):
    message = await websocket.recv()
    await websocket.send(f"{room}: {message}")
    await websocket.wait_closed()


@_w("time.sleep in the handler (blocks every client)", {"route"})
async def route_time_sleep(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        time.sleep(0.5)
        await websocket.send(f"{room}: {message}")


@_w("busy-waits for the close after bye (a loop that never awaits)", {"bye"})
async def route_busy_waits(websocket, room):
    async for message in websocket:
        if message == "bye":
            closing = asyncio.ensure_future(websocket.close())
            while not closing.done():  # never done: the loop that would run it is stuck here
                pass
            return
        await websocket.send(f"{room}: {message}")


@_w("echoes without the room", {"route"})
async def route_plain_echo(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        await websocket.send(message)
