"""Backup and restore of an installation: its database, its uploaded files and a manifest.

A backup directory holds
  database.pgdump | database.sqlite3   one consistent snapshot of the database (postgres.py,
                                       sqlite.py); the runtime settings are rows in it
  uploads/<storage key>                the file of every Dokument in that snapshot (files.py)
  manifest.json                        written last: versions, schema revision, sizes and
                                       SHA-256 of every file above (manifest.py)

Order (create.py): the database snapshot first, then the files its Dokumente name. An
upload stores its file before it commits the Dokument, so every row in the snapshot has its
file; a file uploaded later has no row there and is left out. Restore (restore.py) checks
everything before it writes anything.
"""
