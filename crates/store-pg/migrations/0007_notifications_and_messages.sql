-- Jobs are claimed by priority, then due time; priorities 10 and up (CPU-heavy media work) are
-- claimed apart from the rest, so neither kind of backlog delays the other.
ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 5;
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (priority, run_at) WHERE state = 'queued';

CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    recipient_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('follow', 'follow_request', 'like', 'comment', 'mention', 'message')),
    actor_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post_id         uuid REFERENCES posts (id) ON DELETE CASCADE,
    comment_id      uuid REFERENCES comments (id) ON DELETE CASCADE,
    conversation_id uuid,
    message_id      uuid,
    -- What caused it (e.g. `like:<post>:<actor>`): one notification per cause, ever.
    cause           text NOT NULL,
    -- Set while the cause is undone (an unlike, an unfollow); cleared when it is redone.
    hidden          boolean NOT NULL DEFAULT false,
    read_at         timestamptz,
    created_at      timestamptz NOT NULL,
    UNIQUE (recipient_id, cause)
);
CREATE INDEX notifications_recipient_idx ON notifications (recipient_id, id);
CREATE INDEX notifications_unread_idx ON notifications (recipient_id, id) WHERE read_at IS NULL AND NOT hidden;
CREATE INDEX notifications_post_idx ON notifications (post_id) WHERE post_id IS NOT NULL;
CREATE INDEX notifications_comment_idx ON notifications (comment_id) WHERE comment_id IS NOT NULL;

CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    -- `<smaller id>:<larger id>` of a 1:1's two participants (NULL for groups): one 1:1 per pair.
    direct_key  text UNIQUE,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE conversation_members (
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The conversation's last activity (its last message's id, else its own): the keyset of a
    -- member's list, newest activity first. Kept here so the list is one index range.
    activity_id     uuid NOT NULL,
    unread_count    bigint NOT NULL DEFAULT 0,
    last_read_at    timestamptz,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_user_idx ON conversation_members (user_id, activity_id);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    text              text NOT NULL,
    client_message_id text NOT NULL,
    created_at        timestamptz NOT NULL,
    UNIQUE (sender_id, client_message_id)
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);
