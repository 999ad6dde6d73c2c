-- voxpop schema, version 4: facilitator review (approve/hide, star, trim, transcript, tags)
-- and an audit log of every change made by a person.

ALTER TABLE reflection ADD COLUMN review_state TEXT NOT NULL DEFAULT 'waiting'
    CHECK (review_state IN ('waiting', 'approved', 'hidden'));
ALTER TABLE reflection ADD COLUMN starred INTEGER NOT NULL DEFAULT 0 CHECK (starred IN (0, 1));
ALTER TABLE reflection ADD COLUMN trim_in REAL;                  -- seconds; NULL = start
ALTER TABLE reflection ADD COLUMN trim_out REAL;                 -- seconds; NULL = end
ALTER TABLE reflection ADD COLUMN transcript_vtt TEXT;           -- WebVTT captions
ALTER TABLE reflection ADD COLUMN reviewed_at TEXT;
CREATE INDEX reflection_review ON reflection (event_id, review_state, starred);

CREATE TABLE tag (
    id        INTEGER PRIMARY KEY,
    event_id  INTEGER NOT NULL REFERENCES event(id),
    name      TEXT NOT NULL COLLATE NOCASE,
    UNIQUE (event_id, name)
);

CREATE TABLE reflection_tag (
    reflection_id  INTEGER NOT NULL REFERENCES reflection(id),
    tag_id         INTEGER NOT NULL REFERENCES tag(id),
    PRIMARY KEY (reflection_id, tag_id)
);

-- Who changed what, when, from what to what. Never updated or deleted by the application.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    user_id      INTEGER REFERENCES user(id),
    user_name    TEXT NOT NULL,                              -- kept if the user is renamed
    action       TEXT NOT NULL,                              -- e.g. 'reflection.review'
    target_kind  TEXT NOT NULL,                              -- 'reflection', 'perspective', …
    target_id    INTEGER,
    before       TEXT,                                       -- JSON
    after        TEXT                                        -- JSON
);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id);
