"""Server-side sessions and login protection; no web-framework imports."""
