"""``python -m chatkit serve``: the chat server from a terminal (see :mod:`chatkit.server.cli`)."""

import sys

from .server.cli import main

sys.exit(main())
