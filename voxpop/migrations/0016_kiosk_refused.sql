-- voxpop schema, version 16: what a kiosk holds that the laptop refused, and the way out.

-- The kiosk's latest heartbeat lists the reflections it keeps because the laptop refused them
-- (JSON: [{"kind", "status", "reason", "created_at"}], at most 20), so an organiser can see why
-- without going to the kiosk. NULL: the kiosk did not say.
ALTER TABLE kiosk ADD COLUMN refused_detail TEXT;
-- When an organiser last asked this kiosk to send its refused reflections again (after fixing
-- the cause); the kiosk's session call carries it, and the kiosk retries once per new value.
ALTER TABLE kiosk ADD COLUMN resend_requested_at TEXT;
-- The last such request the kiosk acted on (its heartbeat echoes it): the studio shows a request
-- as waiting for the kiosk until then.
ALTER TABLE kiosk ADD COLUMN resend_done_at TEXT;
