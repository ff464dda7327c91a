"""Alerts to the operator: incidents found by checks, announced once when they start and end.

- `checks.py` decides what is an incident (no worker, a backlog, failures, Redis memory and
  durability, free disk, logging) from figures the other modules read;
- `process_facts.py`: what only a process itself can see (its disks, its logging), put in
  Redis by every process;
- `incidents.py` keeps the open incidents in Redis and claims each start and end once;
- `announce.py` tells every operator (a SYSTEM_ALERT notification);
- `loop.py` runs in every app and worker process; a lease lets one of them evaluate per tick.
"""
