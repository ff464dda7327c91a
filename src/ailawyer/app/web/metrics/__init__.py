"""`GET /metrics` for Prometheus: this process's figures and the installation's from Redis."""
