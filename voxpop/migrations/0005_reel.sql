-- Highlights reels: an ordered list of reflections per reel, rendered by a job.
-- Pieces (cards, clip heads, portrait clips made landscape) are files named by a hash of what
-- they show, under uploads/derived/: a cache rebuilt on demand, so it needs no table.

CREATE TABLE reel (
    id                 INTEGER PRIMARY KEY,
    event_id           INTEGER NOT NULL REFERENCES event(id),
    title              TEXT NOT NULL,
    burn_captions      INTEGER NOT NULL DEFAULT 0 CHECK (burn_captions IN (0, 1)),
    archived           INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),  -- in the public archive
    revision           INTEGER NOT NULL DEFAULT 1,    -- bumped by every change to what it shows
    rendered_revision  INTEGER,                       -- the revision the current files show
    status             TEXT NOT NULL DEFAULT 'draft'
                       CHECK (status IN ('draft', 'rendering', 'ready', 'failed')),
    failure_reason     TEXT,
    duration_seconds   REAL,
    rendered_at        TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX reel_event ON reel (event_id);

CREATE TABLE reel_item (
    reel_id        INTEGER NOT NULL REFERENCES reel(id) ON DELETE CASCADE,
    reflection_id  INTEGER NOT NULL REFERENCES reflection(id),
    position       INTEGER NOT NULL,
    PRIMARY KEY (reel_id, reflection_id)
);
CREATE INDEX reel_item_reflection ON reel_item (reflection_id);

CREATE TABLE reel_asset (
    id          INTEGER PRIMARY KEY,
    reel_id     INTEGER NOT NULL REFERENCES reel(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('mp4', 'vtt', 'captioned_mp4')),
    path        TEXT NOT NULL,                         -- relative to the uploads folder
    sha256      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (reel_id, kind)
);

-- Consent is enforced by the database itself: a reflection whose delegate did not agree to the
-- highlights reel (or who withdrew) can never be placed in one, whatever the code above does.
CREATE TRIGGER reel_item_needs_reel_consent BEFORE INSERT ON reel_item
WHEN NOT EXISTS (
    SELECT 1 FROM consent c JOIN reflection r ON r.id = c.reflection_id
    WHERE c.reflection_id = NEW.reflection_id AND c.reel = 1 AND c.withdrawn_at IS NULL
      AND r.status != 'withdrawn'
)
BEGIN
    SELECT RAISE(ABORT, 'reel consent required');
END;

CREATE TRIGGER reel_item_keeps_reel_consent BEFORE UPDATE OF reflection_id ON reel_item
WHEN NOT EXISTS (
    SELECT 1 FROM consent c JOIN reflection r ON r.id = c.reflection_id
    WHERE c.reflection_id = NEW.reflection_id AND c.reel = 1 AND c.withdrawn_at IS NULL
      AND r.status != 'withdrawn'
)
BEGIN
    SELECT RAISE(ABORT, 'reel consent required');
END;
