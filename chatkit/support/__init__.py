"""The bottom layer: running things beside the program, for every other layer to use.

``processes`` (a child process started in a process group of its own, ready when it
says so or its port answers, stopped by its PID with its descendants; this process's
file limit) and ``loop_thread`` (an event loop of its own in a thread). Neither
imports anything of chatkit, so the core, the server, the notebook side, the
benchmarks and the tests can all use them::

    from chatkit.support.processes import start_child
    from chatkit.support.loop_thread import LoopThread

"""

__all__: list[str] = []  # its modules are imported by name: chatkit.support.processes, ...
