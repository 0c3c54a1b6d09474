-- append_events_batch plans its statements once per connection (generic plans) instead of
-- at every call. PL/pgSQL's plan cache weighs a generic plan against the custom plans of the
-- first five calls; for the guard check, whose rows come from unnest() of array slices, the
-- generic plan's estimate (10 rows against the custom plans' 1-4) kept it choosing custom
-- plans for good, so every item of every call was planned again (0.6 ms for that one query
-- cold). Every statement of the function looks rows up by key, for which the generic plan
-- is the same index scan. Order appends with a two-product guard, 32 lanes through the store
-- on a 1M-event database: 153-162 µs of PostgreSQL CPU per append against 229-295 µs, and
-- 7,000 appends/s against 4,300-5,250.
ALTER FUNCTION append_events_batch(text[], text[], bigint[], int[], uuid[], text[], bytea[], bytea[],
                                   text[], text[], text[], int[], text[], int[], text[], bigint[])
  SET plan_cache_mode = force_generic_plan;
