"""chatkit.server over real sockets on 127.0.0.1: the app, frames, the guard, the CLI, the page."""
