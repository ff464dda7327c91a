"""Durable user notifications: the service, its types and per-user preferences (no web imports)."""
