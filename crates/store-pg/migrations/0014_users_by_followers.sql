-- People searches list the most followed first: for a common name they walk this index from the
-- top and stop at the first page, where reading every account with that name and sorting them
-- took milliseconds. The price: a follow changes an indexed column of its account.
CREATE INDEX users_followers_idx ON users (followers_count DESC, id DESC);
