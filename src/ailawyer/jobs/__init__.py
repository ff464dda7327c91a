"""Background jobs: the queue registry, typed payloads, default options, enqueue and retry.

The app, the worker and the admin explorer all read the one declaration in `registry`.
"""
