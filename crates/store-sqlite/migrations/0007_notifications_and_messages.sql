-- Jobs are claimed by priority, then due time; priorities 10 and up (CPU-heavy media work) are
-- claimed apart from the rest, so neither kind of backlog delays the other.
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (priority, run_at) WHERE state = 'queued';

CREATE TABLE notifications (
    id              BLOB PRIMARY KEY NOT NULL,
    recipient_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('follow', 'follow_request', 'like', 'comment', 'mention', 'message')),
    actor_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post_id         BLOB REFERENCES posts (id) ON DELETE CASCADE,
    comment_id      BLOB REFERENCES comments (id) ON DELETE CASCADE,
    conversation_id BLOB,
    message_id      BLOB,
    -- What caused it (e.g. `like:<post>:<actor>`): one notification per cause, ever.
    cause           TEXT NOT NULL,
    -- Set while the cause is undone (an unlike, an unfollow); cleared when it is redone.
    hidden          INTEGER NOT NULL DEFAULT 0,
    read_at         INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (recipient_id, cause)
) STRICT;
CREATE INDEX notifications_recipient_idx ON notifications (recipient_id, id);
CREATE INDEX notifications_unread_idx ON notifications (recipient_id, id) WHERE read_at IS NULL AND NOT hidden;
CREATE INDEX notifications_post_idx ON notifications (post_id) WHERE post_id IS NOT NULL;
CREATE INDEX notifications_comment_idx ON notifications (comment_id) WHERE comment_id IS NOT NULL;

CREATE TABLE conversations (
    id          BLOB PRIMARY KEY NOT NULL,
    -- `<smaller id>:<larger id>` of a 1:1's two participants (NULL for groups): one 1:1 per pair.
    direct_key  TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE conversation_members (
    conversation_id BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The conversation's last activity (its last message's id, else its own): the keyset of a
    -- member's list, newest activity first. Kept here so the list is one index range.
    activity_id     BLOB NOT NULL,
    unread_count    INTEGER NOT NULL DEFAULT 0,
    last_read_at    INTEGER,
    PRIMARY KEY (conversation_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX conversation_members_user_idx ON conversation_members (user_id, activity_id);

CREATE TABLE messages (
    id                BLOB PRIMARY KEY NOT NULL,
    conversation_id   BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id         BLOB REFERENCES users (id) ON DELETE SET NULL,
    text              TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    UNIQUE (sender_id, client_message_id)
) STRICT;
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);
