"""Real-time delivery shared by app and worker: room names and the emitter (no server code)."""
