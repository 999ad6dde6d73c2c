-- voxpop schema, version 9: words out of the video (issue 16, first part).
-- One transcript per recorded reflection: what the speech model heard, with its words' times
-- (segments JSON), and where its captions stand. No row = status 'none'.
CREATE TABLE transcript (
    reflection_id         INTEGER PRIMARY KEY REFERENCES reflection(id),
    status                TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('none', 'queued', 'draft', 'checked', 'needs-person', 'no-speech')),
    reason                TEXT,            -- why a person must caption it, or why there is none
    language              TEXT,            -- detected, e.g. 'en'
    language_probability  REAL,
    text                  TEXT,            -- plain transcript (drafts only)
    segments              TEXT,            -- JSON: [{start, end, text, words: [{start, end, text, probability}]}]
    draft_vtt             TEXT,            -- the machine's captions, as first written
    model                 TEXT,            -- which speech model made it
    compute_seconds       REAL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    checked_at            TEXT,
    checked_by            INTEGER REFERENCES user(id)
);
CREATE INDEX transcript_status ON transcript (status);

-- A withdrawal takes the transcript with it, in the same transaction, in every copy of the
-- database that has this table (the backups kept before an upgrade included).
CREATE TRIGGER transcript_withdrawn AFTER UPDATE OF status ON reflection
WHEN NEW.status = 'withdrawn'
BEGIN
    DELETE FROM transcript WHERE reflection_id = NEW.id;
END;
