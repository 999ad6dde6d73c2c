-- voxpop schema, version 3: remember which kiosks `voxpop serve` made for its start-up
-- pairing link, so that only those are retired when unused (not kiosks made on purpose).
ALTER TABLE kiosk ADD COLUMN auto INTEGER NOT NULL DEFAULT 0;
