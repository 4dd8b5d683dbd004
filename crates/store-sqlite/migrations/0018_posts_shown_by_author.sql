-- The feed's graph read asks each followee for its newest post that is not taken down: with the
-- condition in the index, that probe reads the index alone, never the post's row (a user with
-- no timeline yet follows up to thousands of accounts, one probe each). It halves that read on
-- the `large` dataset (docs/feed.md). PostgreSQL has no such index: its probes cost the same
-- with it, as its posts stay in shared buffers and the executor's per-probe work dominates.
CREATE INDEX posts_shown_by_author_idx ON posts (author_id, id) WHERE taken_down_at IS NULL;
