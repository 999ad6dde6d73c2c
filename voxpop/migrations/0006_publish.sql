-- voxpop schema, version 6: publishing the archive to S3 (or any S3-compatible store).
-- Credentials are never stored here: boto3 finds them (environment, profile, role).

-- Where an event's archive goes, as saved from the studio. VOXPOP_S3_BUCKET, VOXPOP_S3_PREFIX,
-- AWS_ENDPOINT_URL_S3 and AWS_REGION in the environment override these; '' = not set.
CREATE TABLE publish_settings (
    event_id      INTEGER PRIMARY KEY REFERENCES event(id),
    bucket        TEXT NOT NULL DEFAULT '',
    prefix        TEXT NOT NULL DEFAULT '',
    region        TEXT NOT NULL DEFAULT '',
    endpoint_url  TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL
);

-- The latest publish of an event, as the studio page shows it (the job row has the rest).
CREATE TABLE publish_state (
    event_id           INTEGER PRIMARY KEY REFERENCES event(id),
    phase              TEXT NOT NULL DEFAULT 'idle'
                       CHECK (phase IN ('idle', 'exporting', 'syncing', 'waiting', 'done', 'failed')),
    target             TEXT,                 -- endpoint|bucket|prefix of the publish below
    files_total        INTEGER NOT NULL DEFAULT 0,   -- files in the export
    files_queued       INTEGER NOT NULL DEFAULT 0,   -- still to send (or delete)
    files_sent         INTEGER NOT NULL DEFAULT 0,
    bytes_sent         INTEGER NOT NULL DEFAULT 0,
    files_unchanged    INTEGER NOT NULL DEFAULT 0,
    files_deleted      INTEGER NOT NULL DEFAULT 0,
    message            TEXT,                 -- why it is waiting or failed
    last_published_at  TEXT,                 -- when a publish last completed
    updated_at         TEXT NOT NULL
);

-- What is known to be in the bucket (path inside the export -> sha256), written as each
-- upload or delete succeeds. It only counts what is queued while offline; the bucket's own
-- sha256 metadata decides what is sent.
CREATE TABLE published_object (
    event_id  INTEGER NOT NULL REFERENCES event(id),
    path      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    PRIMARY KEY (event_id, path)
);
