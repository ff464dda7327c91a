"""One module per queue: the function that runs its jobs.

Queues are declared in `ailawyer.jobs.catalog`; `ailawyer.worker.bindings` binds these to them.

Every processor is safe to run twice: a job whose worker dies runs again elsewhere.
"""
