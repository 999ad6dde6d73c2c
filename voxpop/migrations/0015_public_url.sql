-- voxpop schema, version 15: the public address of the published archive (issue 18).

-- Where people open the archive when it is served from the organisers' own website or a CDN
-- in front of the bucket (https://…/, ending in "/"); the report's QR codes and the studio's
-- link use it. '' = not set: links use the bucket's own address. VOXPOP_ARCHIVE_URL in the
-- environment overrides it.
ALTER TABLE publish_settings ADD COLUMN public_url TEXT NOT NULL DEFAULT '';
