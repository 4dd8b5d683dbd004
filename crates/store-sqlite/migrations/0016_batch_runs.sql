-- Batch jobs (`picshare batch <name>`, and the scheduler of `serve` and `worker`): one row per
-- job. A run holds the row's lease, so any number of processes may try a job and one runs it;
-- a run that dies lets the lease lapse. The last run's outcome is what `/metrics` shows.
CREATE TABLE batch_runs (
    name          text PRIMARY KEY,
    holder        text,
    lease_until   INTEGER,
    started_at    INTEGER,
    finished_at   INTEGER,
    succeeded     INTEGER,
    found         INTEGER NOT NULL DEFAULT 0,
    fixed         INTEGER NOT NULL DEFAULT 0,
    detail        text
);

-- What the repair job fails (media stuck in processing) and what the invites cleanup deletes
-- (unused invites past their expiry, or revoked), found by index: a scan of either table inside
-- the write would hold SQLite's write lock for seconds on millions of rows.
CREATE INDEX media_unfinished_idx ON media (updated_at) WHERE status IN ('uploaded', 'processing');
CREATE INDEX invites_unused_expiry_idx ON invites (expires_at) WHERE used_by IS NULL;
CREATE INDEX invites_unused_revoked_idx ON invites (revoked_at)
    WHERE used_by IS NULL AND revoked_at IS NOT NULL;
