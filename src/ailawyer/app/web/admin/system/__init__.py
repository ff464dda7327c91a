"""`/admin/system`: health of services and processes, and the log viewer."""
