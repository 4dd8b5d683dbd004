-- Account deletion. A deleted account vanishes from every read at once (reads skip users whose
-- `deleted_at` is set), then the `delete_account` job removes what it owned in bounded batches
-- and the row last, which frees its handle and email (a grace of 0 frees them at once).
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
-- Every API process reloads the deleted accounts with the suspended ones, to refuse their tokens.
CREATE INDEX users_deleted_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;

-- What the account did, found by the account: its likes, comments and notifications it caused
-- are removed in batches, and the row's delete cascades to reports and strikes through these.
CREATE INDEX likes_user_idx ON likes (user_id, post_id);
CREATE INDEX comments_author_idx ON comments (author_id, id);
CREATE INDEX notifications_actor_idx ON notifications (actor_id);
CREATE INDEX reports_reporter_idx ON reports (reporter_id);
CREATE INDEX reports_resolved_by_idx ON reports (resolved_by) WHERE resolved_by IS NOT NULL;
CREATE INDEX strikes_user_all_idx ON strikes (user_id);
