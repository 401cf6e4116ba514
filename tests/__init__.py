"""chatkit's tests, in folders that mirror the package (core, server, redis, notebook, checks,
bench), plus the course (notebooks, nbgrader, JupyterLab) and a real JupyterHub.

Every folder is a package, so test modules are named ``tests.<folder>.<module>``:
two folders may hold files of the same name, and ``tests/redis`` never hides redis-py.
What the tests share is in ``tests/helpers``; the fixtures are in the ``conftest.py`` files.
"""
