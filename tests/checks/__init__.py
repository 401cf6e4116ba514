"""chatkit.checks: the course's check cells, against a battery of wrong solutions (broken/)."""
