-- Blue/green replay: every physical version of a projection records the definition
-- version that built it, its tables, its life cycle and its replay progress; side
-- effects keep one position per projection (not per version) so they never fire twice.

-- state: building (a replay fills it) → live (serving or ready) → retired (switched away,
-- dropped after drop_after) → dropped (tables and Redis keys gone; the row stays so that
-- version numbers are never reused).
ALTER TABLE projections
  ADD COLUMN definition_version int,
  ADD COLUMN state          text        NOT NULL DEFAULT 'live',
  ADD COLUMN tables         text[],
  ADD COLUMN indexes_built  boolean     NOT NULL DEFAULT true,
  ADD COLUMN events_total   bigint,
  ADD COLUMN events_done    bigint      NOT NULL DEFAULT 0,
  ADD COLUMN drop_after     timestamptz,
  ADD CONSTRAINT projections_state CHECK (state IN ('building', 'live', 'retired', 'dropped'));

UPDATE projections SET definition_version = version WHERE definition_version IS NULL;

-- Up to where a projection's side effects have fired (live mode only).
CREATE TABLE projection_side_effects (
  name     text PRIMARY KEY,
  position text NOT NULL
);
