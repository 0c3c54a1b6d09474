-- The run_id of the Redis server a projection version's views were last seen on. A leader
-- compares it with the server's at its first check, so a Redis that restarted while no
-- process of the service was running (from an older snapshot, whose sentinel says its views
-- are complete) is told apart from the one the views were written to, as a restart seen by a
-- running leader is; its keys are then dropped and the views restored from the rows.
ALTER TABLE projections ADD COLUMN redis_run_id text;
