"""The course itself: its notebooks in real kernels and in JupyterLab, graded with nbgrader."""
