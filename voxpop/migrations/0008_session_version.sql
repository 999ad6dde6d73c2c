-- voxpop schema, version 8: logging out ends the session (issue 13).
-- Sessions are signed cookies; each carries the user's session_version from when they logged
-- in, and a request whose version is not the user's current one is logged out. Logging out
-- and changing a password move the version on, so every copy of an old cookie stops working.
ALTER TABLE user ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0;
