"""The web console: server-rendered pages for group and subsidiary admins (and auditors),
over the three services' public HTTP APIs, with the signed-in user's own token."""
