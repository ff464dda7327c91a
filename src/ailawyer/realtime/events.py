"""Socket.IO event names, declared once (the browser's static/js/realtime.js mirrors them)."""

from __future__ import annotations

# Server -> client
NOTIFICATION = "notification"  # a new notification, the full NotificationOut payload
# The next two carry the unread count as of a seq: {"unread_count": n, "unread_seq": n}.
NOTIFICATION_READ = "notification:read"  # + {"ids": [...]} or {"up_to_seq": n}
NOTIFICATION_DISMISSED = "notification:dismissed"  # + {"id": n}
RESYNC = "notifications:resync"  # events may have been lost: fetch everything after your seq
SESSION_ENDED = "session:ended"  # {"reason": "logout" | "expired" | ...}; disconnect follows

# Client -> server (answered with an acknowledgement {"ok": bool, "error"?: str})
AKTE_JOIN = "akte:join"
AKTE_LEAVE = "akte:leave"

# Server -> clients on an Akte's page (room akte:{id}); the page refreshes the row.
DOKUMENT_STATUS = "dokument:status"  # {"dokumentId", "akteId", "status"}
DOKUMENT_PROGRESS = "dokument:progress"  # {"dokumentId", "akteId", "progress": 0..100}

# The job explorer (rooms.job_explorer_room: the operator's with every job, a Kanzlei ADMIN's
# with its own jobs). Client -> server, acknowledged like above; the server picks the room:
JOBS_JOIN = "jobs:join"
# Server -> explorer pages, at most a few per second and queue:
# {"queue", "counts": {state: n}, "paused": bool, "jobs": [{"id", "state"|null}], "more": bool}
# ("more": further jobs changed than are listed; a Kanzlei's room gets no "counts").
JOBS_UPDATE = "jobs:update"
