# The class's chat room as a JupyterHub service: add these lines to your
# jupyterhub_config.py (see docs/instructors.md, "On JupyterHub, Binder, Colab", and the
# module chatkit.server.jupyterhub; the hub tests run this very file). chatkit must be
# installed where the hub runs, and in the users' image with jupyter-server-proxy>=4.2
# (requirements.txt).
import sys

c = get_config()  # noqa: F821 (JupyterHub provides it)

c.JupyterHub.services = [
    {
        "name": "chatkit",
        "url": "http://127.0.0.1:10101",  # where the service listens
        "command": [sys.executable, "-m", "chatkit.server.jupyterhub"],
        "oauth_no_confirm": True,  # no "authorize chatkit?" page for students
        # Besides hub admins, the members of this hub group are instructors (optional):
        "environment": {"CHATKIT_INSTRUCTOR_GROUP": "instructors"},
    }
]
# The chat name is the hub login; the service asks the hub who is an admin or in the group.
c.JupyterHub.load_roles = [
    {"name": "chatkit-service", "services": ["chatkit"],
     "scopes": ["read:users", "read:users:groups"]},
]
# Every user may use it: in the browser (/services/chatkit/<room>) ...
c.JupyterHub.extra_user_scopes = ["access:services!service=chatkit"]
# ... and from their notebooks, with their server's own token (chatkit.class_room).
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=chatkit",
]
# Where notebooks reach the service. With the hub and users on one machine it is
# the service's own address; in Kubernetes, the hub pod's (e.g. http://hub:10101/...),
# with the service listening on 0.0.0.0.
c.Spawner.environment = {"CHATKIT_CLASS_URL": "http://127.0.0.1:10101/services/chatkit/"}
