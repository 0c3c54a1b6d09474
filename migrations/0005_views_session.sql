-- A leader sets views_writing while it writes a projection version's Redis views and
-- clears it when it stops cleanly. Found set at start, it means a leader died while
-- writing: its last views may be ahead of rows that never committed (members of list sets
-- included, which the next writes cannot find), so the views are restored from the rows.
ALTER TABLE projections ADD COLUMN views_writing boolean NOT NULL DEFAULT false;
