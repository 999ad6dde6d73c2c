-- voxpop schema, version 2: background jobs with progress, and derived files (assets).

CREATE TABLE job (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,                              -- e.g. 'process_reflection'
    target_id    INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    progress     REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    error        TEXT,
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    run_after    TEXT                                        -- next retry, when waiting
);
-- At most one open job per target and kind: enqueueing twice finds the first.
CREATE UNIQUE INDEX job_one_open ON job (kind, target_id) WHERE status IN ('queued', 'running');
CREATE INDEX job_status ON job (status);

CREATE TABLE asset (
    id             INTEGER PRIMARY KEY,
    reflection_id  INTEGER NOT NULL REFERENCES reflection(id),
    kind           TEXT NOT NULL CHECK (kind IN ('mp4', 'poster', 'thumb', 'card')),
    path           TEXT NOT NULL,                            -- relative to the uploads folder
    sha256         TEXT NOT NULL,
    bytes          INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    UNIQUE (reflection_id, kind)
);

ALTER TABLE reflection ADD COLUMN width INTEGER;
ALTER TABLE reflection ADD COLUMN height INTEGER;
