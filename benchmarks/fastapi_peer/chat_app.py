"""The same group chat written the usual FastAPI way: a peer for the benchmark.

A ``ConnectionManager`` keeps the room's members and ``await websocket.send_json(...)``
(``send_text`` of compact JSON) to each, one after the other, as FastAPI's WebSockets tutorial shows; the protocol is
the classic exercise's (join, chat, the notes), as the express-ws original speaks it.
It runs in a virtual environment of its own (``pip install "fastapi[standard]"``,
``chatkit.bench.peers`` makes it), started by uvicorn::

    uvicorn chat_app:app --host 127.0.0.1 --port 3102              # uvicorn's defaults
    uvicorn chat_app:app --port 3102 --ws-per-message-deflate false  # compression off

Nothing here imports chatkit: this file is the whole server.
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

__all__ = ["app", "ConnectionManager"]

app = FastAPI()


class ConnectionManager:
    """The members of each room, by room name; sends to each in turn."""

    def __init__(self) -> None:
        self.rooms: dict[str, list[WebSocket]] = {}

    def join(self, room: str, websocket: WebSocket) -> None:
        self.rooms.setdefault(room, []).append(websocket)

    def leave(self, room: str, websocket: WebSocket) -> None:
        members = self.rooms.get(room, [])
        if websocket in members:
            members.remove(websocket)
        if not members:
            self.rooms.pop(room, None)

    async def broadcast(self, room: str, data: dict) -> None:
        for connection in list(self.rooms.get(room, [])):
            try:
                await connection.send_json(data)  # compact JSON, as JSON.stringify writes it
            except Exception:  # a member that left meanwhile: the others still get it
                pass


manager = ConnectionManager()


@app.websocket("/chat/{room}")
async def chat(websocket: WebSocket, room: str) -> None:
    await websocket.accept()
    name = None
    try:
        while True:
            message = await websocket.receive_json()
            if message.get("type") == "join":
                name = message["name"]
                manager.join(room, websocket)
                await manager.broadcast(room, {"type": "note", "text": f'{name} joined "{room}".'})
            elif message.get("type") == "chat":
                await manager.broadcast(room, {"name": name, "type": "chat", "text": message["text"]})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if name is not None:
            manager.leave(room, websocket)
            await manager.broadcast(room, {"type": "note", "text": f"{name} left {room}."})
