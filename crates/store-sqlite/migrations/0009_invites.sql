-- Invites: codes an account hands out, used once; who invited whom is kept (the invite tree).
CREATE TABLE invites (
    id          BLOB PRIMARY KEY NOT NULL,
    code        TEXT NOT NULL UNIQUE,
    inviter_id  BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_by     BLOB UNIQUE REFERENCES users (id) ON DELETE SET NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX invites_inviter_idx ON invites (inviter_id, id);

ALTER TABLE users ADD COLUMN invited_by BLOB REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX users_invited_by_idx ON users (invited_by, id) WHERE invited_by IS NOT NULL;
