-- voxpop schema, version 17: the longest clip each event has ever allowed.

-- A kiosk records under the "Longest clip" it loaded with, and may send the take minutes (or,
-- offline, days) later. Lowering the setting in between must not fail a take the delegate was
-- already thanked for, so recordings are judged by the highest value the event has had, and a
-- paired kiosk still cannot send anything longer than the organiser allowed at some point.
ALTER TABLE event ADD COLUMN max_clip_seconds_ever INTEGER NOT NULL DEFAULT 0;

-- Events from before this version: their current limit, or a higher one the audit log shows
-- they had (a settings change records the old value).
UPDATE event SET max_clip_seconds_ever = MAX(
    max_clip_seconds,
    COALESCE(
        (SELECT MAX(CAST(json_extract(a.before, '$.max_clip_seconds') AS INTEGER))
         FROM audit_log a
         WHERE a.action = 'event.update' AND a.target_kind = 'event' AND a.target_id = event.id
           AND json_valid(a.before)),
        0
    )
);

-- Kept up to date by the database itself, whichever code changes the limit.
CREATE TRIGGER event_longest_clip_set AFTER INSERT ON event
BEGIN
    UPDATE event SET max_clip_seconds_ever = MAX(max_clip_seconds_ever, NEW.max_clip_seconds)
    WHERE id = NEW.id;
END;

CREATE TRIGGER event_longest_clip_changed AFTER UPDATE OF max_clip_seconds ON event
BEGIN
    UPDATE event SET max_clip_seconds_ever = MAX(max_clip_seconds_ever, NEW.max_clip_seconds)
    WHERE id = NEW.id;
END;
