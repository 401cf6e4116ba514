"""chatkit.notebook: chatkit.start in a real kernel, the WebSocket client, the chat panel."""
