-- A first feed page read from the follow graph asks only the followees that posted lately
-- (docs/feed.md, "The graph read"). Each follow row marks a post id such that every post of the
-- followee is older than the end of that id's hour. The default, all ones, claims nothing: such
-- a followee is always asked.
ALTER TABLE follows ADD COLUMN followee_last_posted BLOB NOT NULL
    DEFAULT X'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF';
UPDATE follows SET followee_last_posted = coalesce(
    (SELECT p.id FROM posts p WHERE p.author_id = follows.followee_id ORDER BY p.id DESC LIMIT 1), zeroblob(16));
CREATE INDEX follows_by_followee_last_posted_idx ON follows (follower_id, followee_last_posted);
