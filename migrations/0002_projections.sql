-- Projection engine: per-version low watermarks, the serving version of each projection,
-- per-partition checkpoints (written in the same transaction as the partition's rows),
-- and events parked after they kept failing.

-- One row per projection version. `position` is the low watermark: every partition has
-- applied every event up to it. Wire form "<commit>-<prepare>".
CREATE TABLE projections (
  name        text        NOT NULL,
  version     int         NOT NULL,
  position    text        NOT NULL DEFAULT '0-0',
  views_dirty boolean     NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);

-- The version serving reads; a replay switches it with one UPDATE.
CREATE TABLE projection_active (
  name       text        PRIMARY KEY,
  version    int         NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projection_checkpoints (
  projection text NOT NULL,
  version    int  NOT NULL,
  partition  int  NOT NULL,
  position   text NOT NULL,
  PRIMARY KEY (projection, version, partition)
);

CREATE TABLE projection_parked (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  projection     text        NOT NULL,
  version        int         NOT NULL,
  partition      int         NOT NULL,
  position       text        NOT NULL,
  event_id       uuid        NOT NULL,
  stream_id      text        NOT NULL,
  stream_version bigint      NOT NULL,
  event_type     text        NOT NULL,
  error          text        NOT NULL,
  parked_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (projection, version, partition, event_id)
);
