CREATE TABLE media (
    id                BLOB PRIMARY KEY NOT NULL,
    owner_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose           TEXT NOT NULL CHECK (purpose IN ('post', 'avatar')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'uploaded', 'processing', 'ready', 'failed')),
    content_type      TEXT NOT NULL,
    size_bytes        INTEGER NOT NULL,
    error             TEXT,
    width             INTEGER,
    height            INTEGER,
    blurhash          TEXT,
    variants          TEXT NOT NULL DEFAULT '[]',
    upload_expires_at INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX media_owner_idx ON media (owner_id, id);
CREATE INDEX media_pending_expiry_idx ON media (upload_expires_at) WHERE status = 'pending';

-- The durable job queue. Due = queued and run_at passed, or running with an expired lease.
CREATE TABLE jobs (
    id           BLOB PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    locked_by    TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX jobs_queued_idx ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_running_idx ON jobs (lease_until) WHERE state = 'running';
