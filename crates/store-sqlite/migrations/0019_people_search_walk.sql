-- People searches walk the accounts most followed first and check each one's handle or name
-- until a page is found. This index holds every column that check reads, so a walk past a
-- thousand accounts that do not match reads no table row for them. Deleted accounts are never
-- searched.
CREATE INDEX users_search_walk_idx
    ON users (followers_count DESC, id DESC, handle, search_name, suspended_until)
    WHERE deleted_at IS NULL;
DROP INDEX users_followers_idx;
