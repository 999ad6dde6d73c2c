-- voxpop schema, version 14: the record of the day's PDF is made by a background job
-- (issue 18): a 1,000-reflection report takes 20–30 s of one core, too long for a request.

-- One row per PDF asked for. The job of kind 'record_report' (target_id = this id) carries
-- the state and progress; this row says what was asked for and where the finished file is
-- (`file`, relative to the instance folder, set only when the PDF is complete). `stage` and
-- `pages` (laid out so far, of about `expected_pages`) say how far along it is.
-- A withdrawal in the event sets `discarded`: the file may quote the withdrawn reflection, so it
-- is no longer offered and the withdrawal job deletes it; a report being made at that moment
-- starts again.
CREATE TABLE record_report (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES event(id),
    lang          TEXT NOT NULL,
    internal      INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    requested_by  INTEGER REFERENCES user(id),
    created_at    TEXT NOT NULL,
    stage         TEXT NOT NULL DEFAULT 'queued',
    pages         INTEGER,
    expected_pages INTEGER,
    file          TEXT,
    size          INTEGER,
    made_at       TEXT,
    discarded     INTEGER NOT NULL DEFAULT 0 CHECK (discarded IN (0, 1))
);
CREATE INDEX record_report_event ON record_report (event_id, id);
