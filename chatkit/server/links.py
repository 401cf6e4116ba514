"""The links to hand out: the machine's address on its network, when it listens on all of them.

``python -m chatkit serve --host 0.0.0.0 --class-code`` serves a class on a shared
network; the link the teacher writes on the board must be the one the students'
machines can reach -- ``http://192.168.1.20:3000/people?code=...``, not ``127.0.0.1``,
which means each student's own machine::

    >>> hand_out_links("127.0.0.1", 3000, "people")
    ['http://127.0.0.1:3000/people']
    >>> links = hand_out_links("0.0.0.0", 3000, "people", "?code=k7f3-q9x2")
    >>> links[-1], len(links)   # the network's link first, then this machine's own
    ('http://127.0.0.1:3000/people?code=k7f3-q9x2', 2)

The address is found without sending anything (:func:`lan_address`).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse

__all__ = ["lan_address", "hand_out_links", "ALL_ADDRESSES", "PROBE"]

#: Hosts that mean "listen on every address of this machine".
ALL_ADDRESSES = ("0.0.0.0", "::", "")
#: An address in a private range that is not expected to answer: ``connect()`` on a UDP
#: socket only asks the kernel which route (and so which address of ours) would reach it
#: -- no packet leaves. Any address beyond the local network would do.
PROBE = ("10.254.254.254", 9)


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified or ip.is_link_local)


def lan_address() -> str | None:
    """This machine's IPv4 address on its network (``"192.168.1.20"``), or None.

    First the address the kernel would send from toward :data:`PROBE` (a UDP
    ``connect()``: nothing is sent); then the addresses the host name resolves to.
    None when neither finds one but loopback (a machine with no network).
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(PROBE)
            address = probe.getsockname()[0]
        if _usable(address):
            return address
    except OSError:  # no route at all (no network, or no default route)
        pass
    try:
        found = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return None
    return next((info[4][0] for info in found if _usable(info[4][0])), None)


def hand_out_links(host: str, port: int, room: str, query: str = "") -> list[str]:
    """The page's links to print for a server on ``host:port``, the one to hand out first.

    On every address (``0.0.0.0``, ``::``): the network's link -- the LAN address, or
    the host name if none is found -- then this machine's own (``127.0.0.1``).
    Otherwise the one address it listens on.
    """
    path = f"/{urllib.parse.quote(room, safe='')}{query}"
    if host in ALL_ADDRESSES:
        hosts = [lan_address() or socket.gethostname(), "127.0.0.1"]
    else:
        hosts = [host]
    return [f"http://{_in_url(name)}:{port}{path}" for name in dict.fromkeys(hosts)]


def _in_url(host: str) -> str:
    """An IPv6 address in brackets, as a URL needs it."""
    return f"[{host}]" if ":" in host else host
