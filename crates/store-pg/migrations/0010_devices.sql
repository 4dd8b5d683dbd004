-- Devices accounts register: a keyed hash of the client's fingerprint, never the fingerprint.
-- Many accounts on one device raise each one's risk score.
CREATE TABLE devices (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint_hash text NOT NULL,
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    UNIQUE (user_id, fingerprint_hash)
);
CREATE INDEX devices_fingerprint_idx ON devices (fingerprint_hash);
CREATE INDEX devices_user_idx ON devices (user_id, id);
-- The most other accounts ever seen on one of the account's devices: kept on the account, so
-- registering throwaway devices (which evicts old ones) cannot erase it.
ALTER TABLE users ADD COLUMN shared_device_accounts bigint NOT NULL DEFAULT 0;

-- Strikes an account earned lately cost it trust levels.
CREATE INDEX strikes_user_recent_idx ON strikes (user_id, created_at) WHERE withdrawn_at IS NULL;

-- users.trust_level now holds only an admin's decision: 'verified', or 'new' (the level is
-- assessed from the account's record whenever it is needed).
UPDATE users SET trust_level = 'new' WHERE trust_level <> 'verified';
