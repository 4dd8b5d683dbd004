-- Search: people by handle and name, posts by caption and hashtag, places (docs/api.md, Search).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

-- The display name as search compares it, written by the application (search::fold_words:
-- case and accents folded, a space before every word). Rows from before are folded for case.
ALTER TABLE users ADD COLUMN search_name text NOT NULL DEFAULT '';
UPDATE users SET search_name = ' ' || lower(display_name) WHERE display_name <> '';
-- Handle and first-word prefixes, compared byte by byte whatever the database's collation.
CREATE INDEX users_handle_prefix_idx ON users ((lower(handle) COLLATE "C"));
CREATE INDEX users_search_name_prefix_idx ON users ((search_name COLLATE "C"));
-- Any word's prefix (LIKE '% word%') and typo-tolerant candidates.
CREATE INDEX users_search_name_trgm_idx ON users USING gin (search_name gin_trgm_ops);
CREATE INDEX users_handle_trgm_idx ON users USING gin (lower(handle) gin_trgm_ops);

-- The caption as search compares it (folded by the application), stemmed as English.
ALTER TABLE posts ADD COLUMN search_text text NOT NULL DEFAULT '';
UPDATE posts SET search_text = lower(caption);
ALTER TABLE posts ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english', search_text)) STORED;
CREATE INDEX posts_search_idx ON posts USING gin (search_vector);

-- Located posts, for places: a point on the globe, searched by the box around a circle.
CREATE INDEX posts_location_idx ON posts USING gist (ll_to_earth(lat, lon)) WHERE lat IS NOT NULL;

