-- Batch jobs (`picshare batch <name>`, and the scheduler of `serve` and `worker`): one row per
-- job. A run holds the row's lease, so any number of processes may try a job and one runs it;
-- a run that dies lets the lease lapse. The last run's outcome is what `/metrics` shows.
CREATE TABLE batch_runs (
    name          text PRIMARY KEY,
    holder        text,
    lease_until   timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    succeeded     boolean,
    found         bigint NOT NULL DEFAULT 0,
    fixed         bigint NOT NULL DEFAULT 0,
    detail        text
);
