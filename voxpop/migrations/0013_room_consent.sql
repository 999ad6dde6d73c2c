-- voxpop schema, version 13: a separate consent purpose for the live wall (issue 18).

-- "Shown on the big screen in the room during the event". Separate from online publication:
-- a delegate may be happy to be seen by the people in the room but not on the web, or the
-- other way round (the people they work with are in the room). Consents recorded before this
-- version never asked, so they are 0: nothing is shown in the room that was not agreed to.
ALTER TABLE consent ADD COLUMN room INTEGER NOT NULL DEFAULT 0 CHECK (room IN (0, 1));
