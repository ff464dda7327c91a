"""The Socket.IO server of an app process: handshake, rooms, session-bound sockets."""
