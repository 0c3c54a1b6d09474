-- Guarded appends: append to one stream only if other streams are still at the versions
-- the caller decided from (0 = the stream does not exist), checked in the same call. Order
-- placement guards on the product streams it took sku, name and price from, so it can
-- decide from cached product snapshots and still never use a product state older than the
-- last change committed before the append.
--
-- Same arguments as append_events (which stays as it is) plus the guard as two parallel
-- arrays. Returns append_events' row plus stale_streams: the guard streams whose version
-- differs, sorted (then ok = false, version is NULL and nothing is written); NULL when
-- the guard held. The guard is checked before the expected version, so a caller that
-- decided from stale streams learns that first. The check takes no lock: a change to a
-- guard stream that commits while this call runs is not seen (the caller read before it).
CREATE FUNCTION append_events_guarded(
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
  p_idem_resource text,
  p_guard_streams  text[],
  p_guard_versions bigint[]
) RETURNS TABLE (ok boolean, version bigint, tx xid8, last_position bigint, stale_streams text[])
LANGUAGE plpgsql AS $$
DECLARE
  v_stale text[];
BEGIN
  SELECT array_agg(g.stream_id ORDER BY g.stream_id) INTO v_stale
    FROM unnest(p_guard_streams, p_guard_versions) AS g(stream_id, expected)
    LEFT JOIN streams s ON s.stream_id = g.stream_id
   WHERE coalesce(s.version, 0) <> g.expected;

  IF v_stale IS NOT NULL THEN
    RETURN QUERY SELECT false, NULL::bigint, NULL::xid8, NULL::bigint, v_stale;
    RETURN;
  END IF;

  RETURN QUERY SELECT a.ok, a.version, a.tx, a.last_position, NULL::text[]
    FROM append_events(p_stream, p_mode, p_expected, p_event_ids, p_types, p_data, p_metadata,
                       p_idem_key, p_idem_scope, p_idem_hash, p_idem_status, p_idem_resource) AS a;
END;
$$;
