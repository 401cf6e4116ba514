# nbgrader's configuration for the chatkit course: copy it to the root of your
# course directory (scripts/nbgrader_course.py does). docs/instructors.md, "Grading with nbgrader".
c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "chatkit"

# Each notebook is an assignment of its own, named like its file (01-the-client ...):
# `nbgrader generate_assignment 01-the-client` adds it to the gradebook.

# Seconds one cell may run during autograde. The slowest cells -- the route and
# client checks on real sockets, the live rooms with panels -- take about 1 s here;
# the graded cells stop a stuck behaviour after 1 s and a stuck step after 10 s
# (20 s for the socket steps; chatkit.checks.grading), so this only ever ends a hung
# *ungraded* cell -- e.g. the check cell above the graded ones, until the checks
# bound each behaviour's time themselves.
c.Execute.timeout = 30

# A student who deleted a graded cell gets it back (and is graded by it).
c.OverwriteCells.add_missing_cells = True

# The stub that replaces each solution: the same as `make students` writes.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
