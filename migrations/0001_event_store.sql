-- Event store: streams with their versions, events in a global order that readers can
-- never skip, and idempotency keys recorded atomically with appends.

CREATE TABLE streams (
  stream_id text PRIMARY KEY,
  version   bigint NOT NULL CHECK (version >= 0)
);

-- Global order is (transaction_id, global_position). A reader only reads rows whose
-- transaction_id is below the xmin of the current snapshot: every transaction below it
-- has finished, and every transaction that starts later gets a larger id, so nothing
-- can ever appear below a position already read (the technique Emmett uses).
CREATE TABLE events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id  xid8   NOT NULL DEFAULT pg_current_xact_id(),
  event_id        uuid   NOT NULL,
  stream_id       text   NOT NULL,
  stream_version  bigint NOT NULL,
  type            text   NOT NULL,
  data            bytea  NOT NULL,
  metadata        bytea  NOT NULL,
  UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_global_order ON events (transaction_id, global_position);

CREATE TABLE idempotency_keys (
  key           text PRIMARY KEY,
  scope         text NOT NULL,
  request_hash  text NOT NULL,
  status        int  NOT NULL,
  resource_id   text,
  body          jsonb,
  stream_id     text,
  version       bigint,
  position      text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- Appends events to one stream in one statement (one round trip, autocommit).
-- p_mode: 'exact' (p_expected is the stream's event count), 'no_stream' or 'any'.
-- Returns ok = false with the actual version on a version mismatch; writes nothing then.
-- A fresh idempotency key that is already recorded raises SQLSTATE 'CQ001' (rolls back).
CREATE FUNCTION append_events(
  p_stream     text,
  p_mode       text,
  p_expected   bigint,
  p_event_ids  uuid[],
  p_types      text[],
  p_data       bytea[],
  p_metadata   bytea[],
  p_idem_key   text,
  p_idem_scope text,
  p_idem_hash  text,
  p_idem_status int,
  p_idem_resource text
) RETURNS TABLE (ok boolean, version bigint, tx xid8, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  n      bigint := cardinality(p_types);
  v_new  bigint;
  v_last bigint;
BEGIN
  IF p_mode = 'no_stream' OR (p_mode = 'exact' AND p_expected = 0) THEN
    INSERT INTO streams AS s (stream_id, version) VALUES (p_stream, n)
      ON CONFLICT (stream_id) DO NOTHING
      RETURNING s.version INTO v_new;
  ELSIF p_mode = 'exact' THEN
    UPDATE streams AS s SET version = s.version + n
      WHERE s.stream_id = p_stream AND s.version = p_expected
      RETURNING s.version INTO v_new;
  ELSE
    INSERT INTO streams AS s (stream_id, version) VALUES (p_stream, n)
      ON CONFLICT (stream_id) DO UPDATE SET version = s.version + n
      RETURNING s.version INTO v_new;
  END IF;

  IF v_new IS NULL THEN
    RETURN QUERY SELECT false, coalesce((SELECT s.version FROM streams s WHERE s.stream_id = p_stream), 0::bigint), NULL::xid8, NULL::bigint;
    RETURN;
  END IF;

  WITH inserted AS (
    INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata)
    SELECT e.id, p_stream, v_new - n + e.ord, e.type, e.data, e.meta
      FROM unnest(p_event_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS e(id, type, data, meta, ord)
      ORDER BY e.ord
    RETURNING global_position
  )
  SELECT max(global_position) INTO v_last FROM inserted;

  IF p_idem_key IS NOT NULL THEN
    INSERT INTO idempotency_keys AS k (key, scope, request_hash, status, resource_id, stream_id, version, position)
      VALUES (p_idem_key, p_idem_scope, p_idem_hash, p_idem_status, p_idem_resource, p_stream, v_new,
              pg_current_xact_id()::text || '-' || v_last::text)
      ON CONFLICT (key) DO UPDATE
        SET scope = excluded.scope, request_hash = excluded.request_hash, status = excluded.status,
            resource_id = excluded.resource_id, body = NULL, stream_id = excluded.stream_id,
            version = excluded.version, position = excluded.position, created_at = now()
        WHERE k.created_at < now() - interval '24 hours';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'idempotency key already recorded' USING ERRCODE = 'CQ001';
    END IF;
  END IF;

  RETURN QUERY SELECT true, v_new, pg_current_xact_id(), v_last;
END;
$$;
