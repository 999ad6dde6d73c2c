-- voxpop schema, version 11: Welsh as a first-class language (issue 17).
-- The event's name and thank-you text are event content a delegate sees, so they are kept per
-- language like perspective labels and prompts: JSON {lang: text}. `event.name` stays as the
-- English name (logs, file names). An event from before has only its English name: a Welsh
-- event cannot open to kiosks until the organiser gives it a Welsh name (it may be the same).
ALTER TABLE event ADD COLUMN names TEXT NOT NULL DEFAULT '{}';
ALTER TABLE event ADD COLUMN thanks TEXT NOT NULL DEFAULT '{}';
UPDATE event SET names = json_object('en', name);
UPDATE event SET thanks = json_object(
    'en', 'Thank you for sharing your reflection. It will help shape what happens next.',
    'cy', 'Diolch am rannu eich adlewyrchiad. Bydd yn helpu i lunio''r hyn sy''n digwydd nesaf.'
);
-- The interface language each person chose; the login keeps the choice made before it.
ALTER TABLE user ADD COLUMN language TEXT;
