"""Administration: every route here is for the ADMIN role only (guarded on the router)."""
