-- Bumped whenever something a cached page of the timeline shows changes without its entries
-- or their posts' edit times changing: the reader's likes and follows, a rebuild (docs/feed.md,
-- "Page cache").
ALTER TABLE timeline_state ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
