"""Rooms shared by several servers through Redis.

``room`` (a ``Room`` whose broadcast publishes: no I/O), ``envelope`` (the header each
entry of a room's stream carries: pure encode/decode), ``scripts`` (the Lua that keeps
names unique across servers), ``streams`` (reading the rooms' streams from the last id
seen), ``hub`` (one server's link to Redis: adding to and reading the streams, names,
presence; a server's rooms backend), ``local`` (a redis-server for a notebook),
``flow`` (the picture of which server carried what). redis-py is needed by ``hub`` only,
when it connects::

    chatkit.start(port=0, redis="redis://127.0.0.1:6379")

"""

from .room import RedisRoom, RemoteMember

__all__ = ["RedisRoom", "RemoteMember"]
