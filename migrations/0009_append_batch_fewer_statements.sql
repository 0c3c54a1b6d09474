-- append_events_batch with less SQL per item, the same decisions and answers (0006):
-- - the guard streams' versions are read once per batch, in one statement, and each item's
--   guard is checked against them; an item that appends to a guard stream moves its version
--   for the items after it, as the query per item saw it (a taken-back append leaves it);
-- - an item of one event inserts it with VALUES instead of a CTE over unnest().
-- Statements planned once per connection, as 0008 set.
CREATE OR REPLACE FUNCTION append_events_batch(
  p_streams        text[],
  p_modes          text[],
  p_expected       bigint[],
  p_counts         int[],
  p_event_ids      uuid[],
  p_types          text[],
  p_data           bytea[],
  p_metadata       bytea[],
  p_idem_keys      text[],
  p_idem_scopes    text[],
  p_idem_hashes    text[],
  p_idem_statuses  int[],
  p_idem_resources text[],
  p_guard_counts   int[],
  p_guard_streams  text[],
  p_guard_versions bigint[]
) RETURNS TABLE (item int, ok boolean, version bigint, tx xid8, last_position bigint, stale_streams text[], duplicate_key boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_items int := cardinality(p_streams);
  v_event_start int[] := '{}';
  v_guard_start int[] := '{}';
  v_next_event int := 1;
  v_next_guard int := 1;
  v_tx xid8 := pg_current_xact_id();
  i int;
  n int;
  es int;
  gs int;
  gn int;
  v_mode text;
  v_stream text;
  v_new bigint;
  v_first bigint;
  v_last bigint;
  v_stale text[];
  v_guards jsonb;
  j int;
BEGIN
  -- The guard streams' versions, read once for the whole batch (one statement instead of
  -- one per item); an item's own append updates them below, as a query per item would see.
  IF cardinality(p_guard_streams) > 0 THEN
    SELECT jsonb_object_agg(g.stream_id, coalesce(s.version, 0)) INTO v_guards
      FROM (SELECT DISTINCT unnest(p_guard_streams) AS stream_id) AS g
      LEFT JOIN streams s ON s.stream_id = g.stream_id;
  END IF;

  FOR i IN 1 .. v_items LOOP
    v_event_start := v_event_start || v_next_event;
    v_guard_start := v_guard_start || v_next_guard;
    v_next_event := v_next_event + p_counts[i];
    v_next_guard := v_next_guard + p_guard_counts[i];
  END LOOP;

  FOR i IN SELECT s.ord::int FROM unnest(p_streams) WITH ORDINALITY AS s(stream_id, ord) ORDER BY s.stream_id, s.ord LOOP
    v_stream := p_streams[i];
    v_mode := p_modes[i];
    n := p_counts[i];
    es := v_event_start[i];
    gs := v_guard_start[i];
    gn := p_guard_counts[i];

    IF gn > 0 THEN
      v_stale := NULL;
      FOR j IN gs .. gs + gn - 1 LOOP
        IF (v_guards ->> p_guard_streams[j])::bigint <> p_guard_versions[j] THEN
          v_stale := v_stale || p_guard_streams[j];
        END IF;
      END LOOP;
      IF v_stale IS NOT NULL THEN
        IF cardinality(v_stale) > 1 THEN
          SELECT array_agg(x ORDER BY x) INTO v_stale FROM unnest(v_stale) AS x;
        END IF;
        RETURN QUERY SELECT i, false, NULL::bigint, NULL::xid8, NULL::bigint, v_stale, false;
        CONTINUE;
      END IF;
    END IF;

    v_new := NULL;
    IF v_mode = 'no_stream' OR (v_mode = 'exact' AND p_expected[i] = 0) THEN
      INSERT INTO streams AS s (stream_id, version) VALUES (v_stream, n)
        ON CONFLICT (stream_id) DO NOTHING
        RETURNING s.version INTO v_new;
    ELSIF v_mode = 'exact' THEN
      UPDATE streams AS s SET version = s.version + n
        WHERE s.stream_id = v_stream AND s.version = p_expected[i]
        RETURNING s.version INTO v_new;
    ELSE
      INSERT INTO streams AS s (stream_id, version) VALUES (v_stream, n)
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + n
        RETURNING s.version INTO v_new;
    END IF;

    IF v_new IS NULL THEN
      RETURN QUERY SELECT i, false, coalesce((SELECT s.version FROM streams s WHERE s.stream_id = v_stream), 0::bigint), NULL::xid8, NULL::bigint, NULL::text[], false;
      CONTINUE;
    END IF;

    IF n = 1 THEN
      INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata)
        VALUES (p_event_ids[es], v_stream, v_new, p_types[es], p_data[es], p_metadata[es])
        RETURNING global_position INTO v_last;
      v_first := v_last;
    ELSE
      WITH inserted AS (
        INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata)
        SELECT e.id, v_stream, v_new - n + e.ord, e.type, e.data, e.meta
          FROM unnest(p_event_ids[es : es + n - 1], p_types[es : es + n - 1], p_data[es : es + n - 1], p_metadata[es : es + n - 1])
               WITH ORDINALITY AS e(id, type, data, meta, ord)
          ORDER BY e.ord
        RETURNING global_position
      )
      SELECT min(global_position), max(global_position) INTO v_first, v_last FROM inserted;
    END IF;

    IF p_idem_keys[i] IS NOT NULL THEN
      INSERT INTO idempotency_keys AS k (key, scope, request_hash, status, resource_id, stream_id, version, position)
        VALUES (p_idem_keys[i], p_idem_scopes[i], p_idem_hashes[i], p_idem_statuses[i], p_idem_resources[i], v_stream, v_new,
                v_tx::text || '-' || v_last::text)
        ON CONFLICT (key) DO UPDATE
          SET scope = excluded.scope, request_hash = excluded.request_hash, status = excluded.status,
              resource_id = excluded.resource_id, body = NULL, stream_id = excluded.stream_id,
              version = excluded.version, position = excluded.position, created_at = now()
          WHERE k.created_at < now() - interval '24 hours';
      IF NOT FOUND THEN
        -- Take the item back: its events, and the stream version it moved (a stream it
        -- created goes; this transaction holds the row, so nothing else moved it meanwhile).
        DELETE FROM events WHERE global_position BETWEEN v_first AND v_last;
        IF v_new = n THEN
          DELETE FROM streams WHERE stream_id = v_stream;
        ELSE
          UPDATE streams SET version = streams.version - n WHERE stream_id = v_stream;
        END IF;
        RETURN QUERY SELECT i, false, NULL::bigint, NULL::xid8, NULL::bigint, NULL::text[], true;
        CONTINUE;
      END IF;
    END IF;

    IF v_guards ? v_stream THEN
      v_guards := jsonb_set(v_guards, ARRAY[v_stream], to_jsonb(v_new));
    END IF;
    RETURN QUERY SELECT i, true, v_new, v_tx, v_last, NULL::text[], false;
  END LOOP;
END;
$$;

ALTER FUNCTION append_events_batch(text[], text[], bigint[], int[], uuid[], text[], bytea[], bytea[],
                                   text[], text[], text[], int[], text[], int[], text[], bigint[])
  SET plan_cache_mode = force_generic_plan;
