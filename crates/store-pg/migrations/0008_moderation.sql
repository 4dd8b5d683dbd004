-- Trust and safety: reports, takedowns, strikes, suspensions and the moderation audit log.

-- A suspended account cannot log in, refresh or act until this moment passes.
ALTER TABLE users ADD COLUMN suspended_until timestamptz;
-- Every API process reloads the suspended accounts every 30 s.
CREATE INDEX users_suspended_idx ON users (suspended_until) WHERE suspended_until IS NOT NULL;

-- Taken-down content is hidden from everyone but its author and moderators, and kept so a
-- takedown can be reversed.
ALTER TABLE posts ADD COLUMN taken_down_at timestamptz;
ALTER TABLE posts ADD COLUMN takedown_reason text;
ALTER TABLE comments ADD COLUMN taken_down_at timestamptz;
ALTER TABLE comments ADD COLUMN takedown_reason text;

CREATE TABLE reports (
    id          uuid PRIMARY KEY,
    reporter_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_kind text NOT NULL CHECK (target_kind IN ('user', 'post', 'comment')),
    target_id   uuid NOT NULL,
    reason      text NOT NULL CHECK (reason IN ('spam', 'harassment', 'nudity', 'violence', 'other')),
    text        text,
    state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'dismissed', 'actioned')),
    resolved_by uuid REFERENCES users (id) ON DELETE SET NULL,
    resolved_at timestamptz,
    created_at  timestamptz NOT NULL
);
-- One open report per reporter and target.
CREATE UNIQUE INDEX reports_open_once_idx ON reports (reporter_id, target_kind, target_id) WHERE state = 'open';
-- The moderators' queue, oldest first (ids are time-ordered).
CREATE INDEX reports_open_idx ON reports (id) WHERE state = 'open';
CREATE INDEX reports_target_idx ON reports (target_kind, target_id) WHERE state = 'open';

-- A takedown's strike against the author; withdrawn when the takedown is reversed.
CREATE TABLE strikes (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_kind  text NOT NULL CHECK (target_kind IN ('post', 'comment')),
    target_id    uuid NOT NULL,
    withdrawn_at timestamptz,
    created_at   timestamptz NOT NULL,
    UNIQUE (target_kind, target_id)
);
CREATE INDEX strikes_user_idx ON strikes (user_id) WHERE withdrawn_at IS NULL;

-- Every moderation and admin action. Append-only: no foreign keys (it outlives the accounts it
-- names) and triggers refuse any change to a row once written.
CREATE TABLE moderation_audit (
    id          uuid PRIMARY KEY,
    actor_id    uuid NOT NULL,
    action      text NOT NULL,
    target_kind text NOT NULL,
    target_id   uuid NOT NULL,
    reason      text,
    -- The suspension's end, for actions that suspend.
    suspended_until timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE INDEX moderation_audit_actor_idx ON moderation_audit (actor_id, id);
CREATE INDEX moderation_audit_target_idx ON moderation_audit (target_id, id);
CREATE INDEX moderation_audit_action_idx ON moderation_audit (action, id);

CREATE FUNCTION moderation_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the moderation audit log is append-only';
END $$;
CREATE TRIGGER moderation_audit_append_only BEFORE UPDATE OR DELETE ON moderation_audit
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_is_append_only();
CREATE TRIGGER moderation_audit_no_truncate BEFORE TRUNCATE ON moderation_audit
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_is_append_only();
