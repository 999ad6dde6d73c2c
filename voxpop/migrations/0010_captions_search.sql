-- voxpop schema, version 10: the captions gate and search over what was said (issue 16).

-- A video or audio reflection goes online (archive, export, S3, public reels) only with captions
-- a person checked. An organiser may relax this per event (the studio then warns that the
-- archive will not meet WCAG 2.2 AA, success criterion 1.2.2).
ALTER TABLE event ADD COLUMN captions_required INTEGER NOT NULL DEFAULT 1
    CHECK (captions_required IN (0, 1));

-- Full-text search over captions (one row a cue, with its start time), written reflections and
-- tags. Diacritics folded, so "ŵyr" finds "wyr" and "cafe" finds "café".
CREATE VIRTUAL TABLE search_entry USING fts5(
    body,
    reflection_id UNINDEXED,
    source UNINDEXED,          -- 'caption' | 'text' | 'tag'
    start UNINDEXED,           -- seconds into the clip (captions only)
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Reflections whose words changed since they were indexed. Triggers fill it from every write,
-- whichever code path makes it; voxpop.reflection.search indexes them before each search.
CREATE TABLE search_dirty (
    reflection_id  INTEGER PRIMARY KEY
);

CREATE TRIGGER search_reflection_added AFTER INSERT ON reflection
BEGIN
    INSERT OR IGNORE INTO search_dirty (reflection_id) VALUES (NEW.id);
END;

CREATE TRIGGER search_words_changed AFTER UPDATE OF text_body, transcript_vtt ON reflection
WHEN NEW.status != 'withdrawn'
BEGIN
    INSERT OR IGNORE INTO search_dirty (reflection_id) VALUES (NEW.id);
END;

CREATE TRIGGER search_tag_added AFTER INSERT ON reflection_tag
BEGIN
    INSERT OR IGNORE INTO search_dirty (reflection_id) VALUES (NEW.reflection_id);
END;

CREATE TRIGGER search_tag_removed AFTER DELETE ON reflection_tag
BEGIN
    INSERT OR IGNORE INTO search_dirty (reflection_id) VALUES (OLD.reflection_id);
END;

CREATE TRIGGER search_tag_renamed AFTER UPDATE OF name ON tag
BEGIN
    INSERT OR IGNORE INTO search_dirty (reflection_id)
        SELECT reflection_id FROM reflection_tag WHERE tag_id = NEW.id;
END;

-- A withdrawal takes its search entries with it, in the same transaction (the withdrawal job
-- then merges the index so no old segment keeps its words).
CREATE TRIGGER search_withdrawn AFTER UPDATE OF status ON reflection
WHEN NEW.status = 'withdrawn'
BEGIN
    DELETE FROM search_entry WHERE reflection_id = NEW.id;
    DELETE FROM search_dirty WHERE reflection_id = NEW.id;
END;

-- Everything there is now gets indexed at the first search.
INSERT OR IGNORE INTO search_dirty (reflection_id)
    SELECT id FROM reflection WHERE status != 'withdrawn';
