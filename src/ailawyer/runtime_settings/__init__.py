"""Settings admins change while the system runs: declared once, stored in SystemSetting,
propagated to every process over Redis pub/sub (see `service`)."""
