"""Addresses fit to show: a URL's password replaced before it reaches a log line or a repr.

A Redis URL may carry a password (``redis://:s3cret@10.0.0.2:6379``); every place that
shows one -- the command line's messages, the Redis hub's and the local Redis server's
``repr`` -- shows it through :func:`redacted`::

    >>> redacted("redis://:s3cret@10.0.0.2:6379/0")
    'redis://:***@10.0.0.2:6379/0'

"""

from __future__ import annotations

import urllib.parse

__all__ = ["redacted"]


def redacted(url: str) -> str:
    """A URL fit for a log line: its password as ``***``.

    >>> redacted("redis://:s3cret@10.0.0.2:6379/0")
    'redis://:***@10.0.0.2:6379/0'
    >>> redacted("redis://127.0.0.1:6379")
    'redis://127.0.0.1:6379'

    """
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
