-- voxpop schema, version 12: single-key shortcuts can be turned off (issue 17, WCAG 2.1.4).
-- The review pages' one-letter keys (a approve, h hide, s star, ...) help a practised reviewer
-- but fire by mistake for someone using speech input or who slips on the keyboard. Each user
-- chooses; on (1) unless they turn them off.
ALTER TABLE user ADD COLUMN review_shortcuts INTEGER NOT NULL DEFAULT 1;
