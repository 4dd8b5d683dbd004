-- Trust and safety: reports, takedowns, strikes, suspensions and the moderation audit log.

-- A suspended account cannot log in, refresh or act until this moment passes.
ALTER TABLE users ADD COLUMN suspended_until INTEGER;
-- Every API process reloads the suspended accounts every 30 s.
CREATE INDEX users_suspended_idx ON users (suspended_until) WHERE suspended_until IS NOT NULL;

-- Taken-down content is hidden from everyone but its author and moderators, and kept so a
-- takedown can be reversed.
ALTER TABLE posts ADD COLUMN taken_down_at INTEGER;
ALTER TABLE posts ADD COLUMN takedown_reason TEXT;
ALTER TABLE comments ADD COLUMN taken_down_at INTEGER;
ALTER TABLE comments ADD COLUMN takedown_reason TEXT;

CREATE TABLE reports (
    id          BLOB PRIMARY KEY NOT NULL,
    reporter_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('user', 'post', 'comment')),
    target_id   BLOB NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('spam', 'harassment', 'nudity', 'violence', 'other')),
    text        TEXT,
    state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'dismissed', 'actioned')),
    resolved_by BLOB REFERENCES users (id) ON DELETE SET NULL,
    resolved_at INTEGER,
    created_at  INTEGER NOT NULL
) STRICT;
-- One open report per reporter and target.
CREATE UNIQUE INDEX reports_open_once_idx ON reports (reporter_id, target_kind, target_id) WHERE state = 'open';
-- The moderators' queue, oldest first (ids are time-ordered).
CREATE INDEX reports_open_idx ON reports (id) WHERE state = 'open';
CREATE INDEX reports_target_idx ON reports (target_kind, target_id) WHERE state = 'open';

-- A takedown's strike against the author; withdrawn when the takedown is reversed.
CREATE TABLE strikes (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_kind  TEXT NOT NULL CHECK (target_kind IN ('post', 'comment')),
    target_id    BLOB NOT NULL,
    withdrawn_at INTEGER,
    created_at   INTEGER NOT NULL,
    UNIQUE (target_kind, target_id)
) STRICT;
CREATE INDEX strikes_user_idx ON strikes (user_id) WHERE withdrawn_at IS NULL;

-- Every moderation and admin action. Append-only: no foreign keys (it outlives the accounts it
-- names) and triggers refuse any change to a row once written.
CREATE TABLE moderation_audit (
    id          BLOB PRIMARY KEY NOT NULL,
    actor_id    BLOB NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   BLOB NOT NULL,
    reason      TEXT,
    -- The suspension's end, for actions that suspend.
    suspended_until INTEGER,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX moderation_audit_actor_idx ON moderation_audit (actor_id, id);
CREATE INDEX moderation_audit_target_idx ON moderation_audit (target_id, id);
CREATE INDEX moderation_audit_action_idx ON moderation_audit (action, id);

CREATE TRIGGER moderation_audit_no_update BEFORE UPDATE ON moderation_audit
    BEGIN SELECT RAISE(ABORT, 'the moderation audit log is append-only'); END;
CREATE TRIGGER moderation_audit_no_delete BEFORE DELETE ON moderation_audit
    BEGIN SELECT RAISE(ABORT, 'the moderation audit log is append-only'); END;
