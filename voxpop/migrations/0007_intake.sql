-- voxpop schema, version 7: field-proof capture.
-- Resumable (tus 1.0) uploads: the row holds what the client declared; the bytes live in
-- uploads/staging/<id>.part and the offset is that file's size on disk, so a restart loses
-- nothing. A finished upload keeps only its link to the reflection (metadata is cleared).
CREATE TABLE upload (
    id               TEXT PRIMARY KEY,                        -- random; the upload URL's last part
    kiosk_id         INTEGER NOT NULL REFERENCES kiosk(id),
    client_id        TEXT NOT NULL,
    length           INTEGER NOT NULL CHECK (length > 0),
    metadata         TEXT NOT NULL,                           -- JSON of the parsed Upload-Metadata
    metadata_header  TEXT NOT NULL,                           -- Upload-Metadata as sent (HEAD echoes it)
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    finished_at      TEXT,
    reflection_id    INTEGER REFERENCES reflection(id),
    refused_reason   TEXT                                     -- set when the finished bytes were refused
);
CREATE INDEX upload_kiosk_client ON upload (kiosk_id, client_id);

-- Receipt codes handed to a kiosk ahead of time, so it can show a delegate their code at once
-- even when the laptop is out of reach. A code is reserved for one kiosk until it is used.
CREATE TABLE receipt_reservation (
    code         TEXT PRIMARY KEY,
    kiosk_id     INTEGER NOT NULL REFERENCES kiosk(id),
    reserved_at  TEXT NOT NULL
);
CREATE INDEX receipt_reservation_kiosk ON receipt_reservation (kiosk_id);

-- Kiosks: roving (an interviewer's phone) or a fixed kiosk; the latest heartbeat.
ALTER TABLE kiosk ADD COLUMN mode TEXT NOT NULL DEFAULT 'kiosk' CHECK (mode IN ('kiosk', 'roving'));
ALTER TABLE kiosk ADD COLUMN last_seen_at TEXT;
ALTER TABLE kiosk ADD COLUMN outbox_count INTEGER;
ALTER TABLE kiosk ADD COLUMN outbox_bytes INTEGER;
ALTER TABLE kiosk ADD COLUMN refused_count INTEGER;
ALTER TABLE kiosk ADD COLUMN storage_usage INTEGER;
ALTER TABLE kiosk ADD COLUMN storage_quota INTEGER;
ALTER TABLE kiosk ADD COLUMN app_version TEXT;
ALTER TABLE kiosk ADD COLUMN user_agent TEXT;

-- How a reflection was captured: JSON {"via": "tus"|"multipart", "recorder_mime": …,
-- "recovered": true|false} — for facilitators to see which devices produced what.
ALTER TABLE reflection ADD COLUMN capture TEXT;

-- How consent was given: ticked on the kiosk by the delegate, or given aloud to a named
-- interviewer on a roving device.
ALTER TABLE consent ADD COLUMN method TEXT NOT NULL DEFAULT 'kiosk' CHECK (method IN ('kiosk', 'verbal'));
ALTER TABLE consent ADD COLUMN interviewer TEXT;
