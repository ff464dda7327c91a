"""One module per queue: the function that runs its jobs (declared in `ailawyer.jobs.registry`).

Every processor is safe to run twice: a job whose worker dies runs again elsewhere.
"""
