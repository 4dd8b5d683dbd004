CREATE TABLE follows (
    follower_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- UUIDv7: the keyset of follower/following lists.
    id          BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX follows_followee_idx ON follows (followee_id, id);
CREATE INDEX follows_follower_idx ON follows (follower_id, id);

CREATE TABLE follow_requests (
    requester_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id           BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (requester_id, target_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX follow_requests_target_idx ON follow_requests (target_id, id);

CREATE TABLE blocks (
    blocker_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);
