"""Is the class (or function) handed to a check the one the notebook last defined?

When the cell that defines ``class Room`` raises -- a typo in the class body, a
``SyntaxError`` -- Python keeps the *previous* ``Room``, and a check would happily
test that one. In IPython the notebook's history says which cell last tried to
define the name; the source of the cell the class really came from is in
``linecache``. If the two differ, the check says so instead of testing the old one::

    >>> class Room:
    ...     def join(self, member): ...
    >>> stale("Room", Room)          # outside IPython (or defined where it says): ""
    ''

"""

from __future__ import annotations

import inspect
import linecache
import re
from typing import Any

__all__ = ["stale"]


def _origin(subject: Any) -> str | None:
    """The file (a cell's pseudo-file) ``subject``'s own code was compiled from."""
    functions = []
    if inspect.isclass(subject):
        for value in vars(subject).values():
            value = getattr(value, "__func__", value)
            if inspect.isfunction(value):
                functions.append(value)
    elif inspect.isfunction(subject):
        functions.append(subject)
    elif callable(subject):  # an instance whose class defines __call__
        call = getattr(type(subject), "__call__", None)
        if inspect.isfunction(call):
            functions.append(call)
    for function in functions:
        return function.__code__.co_filename
    return None


def _normal(source: str) -> list[str]:
    return [line.rstrip() for line in source.strip().splitlines() if line.strip()]


def stale(name: str, subject: Any) -> str:
    """A sentence saying ``subject`` is not what the newest cell defining ``name`` made, or ""."""
    try:
        from IPython import get_ipython
    except ImportError:
        return ""
    shell = get_ipython()
    origin = _origin(subject)
    if shell is None or origin is None or not name.isidentifier():
        return ""
    try:
        history = list(shell.history_manager.input_hist_parsed)
    except AttributeError:
        return ""
    defines = re.compile(rf"^(class|def|async\s+def)\s+{re.escape(name)}\b", re.MULTILINE)
    for number in range(len(history) - 1, 0, -1):
        if defines.search(history[number]):
            newest, cell = history[number], number
            break
    else:
        return ""  # no cell defines it (imported): nothing to compare with
    if _normal("".join(linecache.getlines(origin))) == _normal(newest):
        return ""
    return (f"this is an older {name}: your newest cell that defines {name} (In[{cell}])"
            f" did not finish -- it raised an error, so Python kept the {name} from before."
            f" Fix that cell, run it, then run this check again.")
