"""The notebook side: a live server beside the kernel, a browser-style client, the chat panel.

``live`` (:func:`chatkit.start`), ``client`` (:class:`chatkit.WebSocket`), ``panel``
(:class:`chatkit.ChatPanel`), ``hosting`` (links that work on JupyterHub, Binder, Colab).
Reach them through the names ``chatkit`` exports::

    server = chatkit.start()
    chatkit.ChatPanel(server, room="people", name="Ann")

"""
