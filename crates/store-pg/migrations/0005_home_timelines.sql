-- Precomputed home timelines (docs/feed.md). A user has one only after reading their feed;
-- the fan-out job writes new posts into the timelines of the author's followers that have one.
CREATE TABLE timeline_state (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The timeline holds every feed post with an id at or above this one (all zeros: every
    -- post; all ones: none yet, while it is being built). Older pages come from the graph.
    floor   uuid NOT NULL
);

-- No foreign keys: a fan-out writes up to 2000 rows at once and their checks were 40% of its
-- time. Entries go with their post (delete_post) and their timeline (start_timeline).
CREATE TABLE home_timeline (
    user_id   uuid NOT NULL,
    post_id   uuid NOT NULL,
    author_id uuid NOT NULL,
    PRIMARY KEY (user_id, post_id)
);
CREATE INDEX home_timeline_post_idx ON home_timeline (post_id);
