"""Shared test helpers: real processes, real services, factories."""
