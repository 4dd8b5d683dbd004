-- Invites: codes an account hands out, used once; who invited whom is kept (the invite tree).
CREATE TABLE invites (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    inviter_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_by     uuid UNIQUE REFERENCES users (id) ON DELETE SET NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX invites_inviter_idx ON invites (inviter_id, id);

ALTER TABLE users ADD COLUMN invited_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX users_invited_by_idx ON users (invited_by, id) WHERE invited_by IS NOT NULL;
