CREATE TABLE follows (
    follower_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- UUIDv7: the keyset of follower/following lists.
    id          uuid NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee_idx ON follows (followee_id, id);
CREATE INDEX follows_follower_idx ON follows (follower_id, id);

CREATE TABLE follow_requests (
    requester_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id           uuid NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (requester_id, target_id)
);
CREATE INDEX follow_requests_target_idx ON follow_requests (target_id, id);

CREATE TABLE blocks (
    blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);
