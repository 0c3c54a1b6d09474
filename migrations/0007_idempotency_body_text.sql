-- Recorded answers keep their body as the JSON text that was sent, so a replay sends the same
-- bytes: jsonb stores objects with their keys reordered (a problem's "status" moved after
-- "detail"), equal as JSON but not byte for byte.
ALTER TABLE idempotency_keys ALTER COLUMN body TYPE text USING body::text;
