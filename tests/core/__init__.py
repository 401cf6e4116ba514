"""chatkit.core: the protocol's grammar, Room and ChatUser -- pure, a list as ``send``."""
