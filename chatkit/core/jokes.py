"""Jokes for the ``/joke`` command: short, safe for a class, about programming."""

__all__ = ["JOKES"]

JOKES = (
    "Why do programmers prefer dark mode? Because light attracts bugs.",
    "There are 10 kinds of people: those who read binary and those who don't.",
    "A WebSocket walks into a bar. The bartender says: we don't serve your type here. "
    "It says: I'll stay open until you do.",
    "Why did the JSON object go to therapy? It had too many unresolved keys.",
    "I would tell you a UDP joke, but you might not get it.",
    "TCP joke: Want to hear a joke? Yes, tell me a joke. OK, here is the joke.",
    "Why was the event loop calm? It never blocked on anything.",
    "What do you call a server that never answers? A static personality.",
)
