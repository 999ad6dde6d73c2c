-- voxpop schema, version 1: events, perspectives, prompts, consent texts, kiosks, users,
-- reflections and their consent records.

CREATE TABLE event (
    id                    INTEGER PRIMARY KEY,
    name                  TEXT NOT NULL,
    date                  TEXT,
    venue                 TEXT,
    languages             TEXT NOT NULL DEFAULT '["en"]',      -- JSON list of language codes
    max_clip_seconds      INTEGER NOT NULL DEFAULT 90 CHECK (max_clip_seconds BETWEEN 5 AND 600),
    idle_timeout_seconds  INTEGER NOT NULL DEFAULT 60 CHECK (idle_timeout_seconds BETWEEN 5 AND 3600),
    text_max_chars        INTEGER NOT NULL DEFAULT 1000 CHECK (text_max_chars BETWEEN 10 AND 20000),
    branding              TEXT NOT NULL DEFAULT '{}',         -- JSON
    created_at            TEXT NOT NULL
);

CREATE TABLE perspective (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES event(id),
    slug        TEXT NOT NULL,
    labels      TEXT NOT NULL,                                 -- JSON {lang: label}
    colour      TEXT NOT NULL,
    position    INTEGER NOT NULL,
    retired_at  TEXT,
    UNIQUE (event_id, slug)
);

CREATE TABLE prompt (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES event(id),
    texts       TEXT NOT NULL,                                 -- JSON {lang: text}
    position    INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1
);

-- Immutable once used: editing makes a new version.
CREATE TABLE consent_text (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES event(id),
    version     INTEGER NOT NULL,
    texts       TEXT NOT NULL,                                 -- JSON {lang: {intro, archive, reel, online, name}}
    sha256      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (event_id, version),
    UNIQUE (event_id, sha256)
);

CREATE TABLE kiosk (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,                        -- sha256 of the API bearer token
    pairing_hash  TEXT UNIQUE,                                 -- sha256 of the one-time pairing token
    paired_at     TEXT,
    revoked_at    TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE user (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('organiser', 'facilitator')),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE reflection (
    id                  INTEGER PRIMARY KEY,
    event_id            INTEGER NOT NULL REFERENCES event(id),
    kind                TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'text')),
    perspective_id      INTEGER NOT NULL REFERENCES perspective(id),
    prompt_id           INTEGER NOT NULL REFERENCES prompt(id),
    text_body           TEXT,
    original_path       TEXT,                                  -- relative to the uploads folder
    original_sha256     TEXT,
    original_bytes      INTEGER,
    original_container  TEXT,                                  -- from the content sniff, not the client
    client_duration_ms  INTEGER,
    duration_seconds    REAL,
    status              TEXT NOT NULL DEFAULT 'received'
                        CHECK (status IN ('received', 'processing', 'ready', 'failed', 'withdrawn')),
    failure_reason      TEXT,
    receipt_code        TEXT NOT NULL UNIQUE,
    client_id           TEXT NOT NULL UNIQUE,
    kiosk_id            INTEGER REFERENCES kiosk(id),
    lang                TEXT NOT NULL,
    display_name        TEXT,                                  -- only when the name purpose is granted
    created_at          TEXT NOT NULL,
    CHECK ((kind = 'text') = (text_body IS NOT NULL)),
    CHECK ((kind = 'text') = (original_path IS NULL))
);
CREATE INDEX reflection_event_perspective ON reflection (event_id, perspective_id);

CREATE TABLE consent (
    id               INTEGER PRIMARY KEY,
    reflection_id    INTEGER NOT NULL UNIQUE REFERENCES reflection(id),
    consent_text_id  INTEGER NOT NULL REFERENCES consent_text(id),
    consent_sha256   TEXT NOT NULL,
    archive          INTEGER NOT NULL CHECK (archive = 1),     -- required to submit at all
    reel             INTEGER NOT NULL CHECK (reel IN (0, 1)),
    online           INTEGER NOT NULL CHECK (online IN (0, 1)),
    show_name        INTEGER NOT NULL CHECK (show_name IN (0, 1)),
    given_at         TEXT NOT NULL,
    withdrawn_at     TEXT
);
