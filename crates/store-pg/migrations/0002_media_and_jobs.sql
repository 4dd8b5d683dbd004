CREATE TABLE media (
    id                uuid PRIMARY KEY,
    owner_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose           text NOT NULL CHECK (purpose IN ('post', 'avatar')),
    status            text NOT NULL CHECK (status IN ('pending', 'uploaded', 'processing', 'ready', 'failed')),
    content_type      text NOT NULL,
    size_bytes        bigint NOT NULL,
    error             text,
    width             integer,
    height            integer,
    blurhash          text,
    variants          jsonb NOT NULL DEFAULT '[]',
    upload_expires_at timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

CREATE INDEX media_owner_idx ON media (owner_id, id);
CREATE INDEX media_pending_expiry_idx ON media (upload_expires_at) WHERE status = 'pending';

-- The durable job queue. Due = queued and run_at passed, or running with an expired lease.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    state        text NOT NULL CHECK (state IN ('queued', 'running', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    run_at       timestamptz NOT NULL,
    locked_by    text,
    lease_until  timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE INDEX jobs_queued_idx ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_running_idx ON jobs (lease_until) WHERE state = 'running';
