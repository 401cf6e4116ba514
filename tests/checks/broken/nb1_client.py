"""Notebook 1: wrong ``connect(url, log)`` functions, as students write them."""

from __future__ import annotations

import time

import chatkit

from .cases import wrong


def _c(kind, groups=()):
    return wrong("client", kind, groups)


@_c("no onerror", {"onerror"})
def client_without_onerror(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


@_c("onclose logs the reason, not the code", {"callbacks"})
def client_logs_reason(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.reason}")
    return ws


@_c("onmessage logs the event, not event.data", {"callbacks"})
def client_logs_event(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


@_c("onopen = log.append('open'): called at once, not a callback", {"callbacks"})
def client_onopen_not_callable(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


@_c("onerror = log.append('error'): called at once, not a callback", {"callbacks", "onerror"})
def client_onerror_not_callable(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


@_c("connect waits (blocks the event loop) until the socket opens", {"callbacks", "onerror"})
def client_blocks_until_open(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    while ws.ready_state == 0:  # CONNECTING: but the loop that would connect is this one
        time.sleep(0.01)
    return ws


@_c("forgets to return the WebSocket", {"callbacks", "onerror"})
def client_returns_nothing(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")


@_c("message without the space: 'message:17'", {"callbacks"})
def client_no_space(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message:{event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


@_c("a callback that raises (str + int)", {"callbacks"})
def client_callback_raises(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append("message: " + event.data)
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append("close: " + event.code)
    return ws


@_c("log.extend('open'): letters, not a line", {"callbacks"})
def client_extends(url, log):
    ws = chatkit.WebSocket(url)

    def onopen(event):
        log.extend("open")

    ws.onopen = onopen
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


@_c("closes at once (ws.close() at the end of connect)", {"callbacks"})
def client_closes_at_once(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    ws.close()
    return ws


@_c("a new list: log = [] inside connect", {"callbacks", "onerror"})
def client_new_log(url, log):
    log = []
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


@_c("onerror logs 'close' too (the close logged twice)", {"onerror"})
def client_error_logs_close(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.extend(["error", "close: 1006"])
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws
