"""`/admin/audit`: the audit log of admin actions (recorded by `ailawyer.domain.audit`)."""
