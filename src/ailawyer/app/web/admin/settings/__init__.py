"""`/admin/settings`: the runtime settings, changed live in every process, audited."""
