"""Domain rules shared by the app and the worker; imports neither Litestar nor Socket.IO."""
