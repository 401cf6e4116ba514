"""A class on a real JupyterHub: its proxy, the chatkit service, students' servers."""
