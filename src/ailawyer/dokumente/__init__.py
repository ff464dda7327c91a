"""Dokumente of an Akte: storage, PDF checks and extraction, processing status (no web imports)."""
