-- Search: people by handle and name, posts by caption and hashtag, places (docs/api.md, Search).

-- The display name as search compares it, written by the application (search::fold_words:
-- case and accents folded, a space before every word). Rows from before are folded for case.
ALTER TABLE users ADD COLUMN search_name TEXT NOT NULL DEFAULT '';
UPDATE users SET search_name = ' ' || lower(display_name) WHERE display_name <> '';
-- First-word prefixes (handle prefixes use users_handle_key).
CREATE INDEX users_search_name_prefix_idx ON users (search_name);
-- Any word's prefix and typo-tolerant candidates: trigrams of the lowercased handle and of
-- the name, each word padded as pg_trgm pads it (two spaces before, one after), so that a
-- word's first letters make trigrams of their own; kept by triggers.
CREATE VIRTUAL TABLE users_fts USING fts5(
    handle, name, content = '', contentless_delete = 1, tokenize = 'trigram');
INSERT INTO users_fts (rowid, handle, name)
    SELECT rowid, '  ' || lower(handle) || ' ', replace(search_name, ' ', '  ') || ' ' FROM users;
CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_fts (rowid, handle, name)
    VALUES (new.rowid, '  ' || lower(new.handle) || ' ', replace(new.search_name, ' ', '  ') || ' ');
END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF handle, search_name ON users BEGIN
    DELETE FROM users_fts WHERE rowid = old.rowid;
    INSERT INTO users_fts (rowid, handle, name)
    VALUES (new.rowid, '  ' || lower(new.handle) || ' ', replace(new.search_name, ' ', '  ') || ' ');
END;

-- The caption as search compares it (folded by the application), stemmed (Porter) and ranked
-- by bm25, kept by triggers.
ALTER TABLE posts ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE posts SET search_text = lower(caption);
CREATE VIRTUAL TABLE posts_fts USING fts5(
    search_text, content = 'posts', content_rowid = 'rowid', tokenize = 'porter unicode61');
INSERT INTO posts_fts (posts_fts) VALUES ('rebuild');
CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER posts_fts_update AFTER UPDATE OF search_text ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO posts_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

-- Located posts, for places: an R*Tree of points by the posts' rowids, kept by triggers.
CREATE VIRTUAL TABLE posts_geo USING rtree(id, min_lat, max_lat, min_lon, max_lon);
INSERT INTO posts_geo SELECT rowid, lat, lat, lon, lon FROM posts WHERE lat IS NOT NULL;
CREATE TRIGGER posts_geo_insert AFTER INSERT ON posts WHEN new.lat IS NOT NULL BEGIN
    INSERT INTO posts_geo VALUES (new.rowid, new.lat, new.lat, new.lon, new.lon);
END;
CREATE TRIGGER posts_geo_delete AFTER DELETE ON posts BEGIN
    DELETE FROM posts_geo WHERE id = old.rowid;
END;
CREATE TRIGGER posts_geo_update AFTER UPDATE OF lat, lon ON posts BEGIN
    DELETE FROM posts_geo WHERE id = old.rowid;
    INSERT INTO posts_geo SELECT new.rowid, new.lat, new.lat, new.lon, new.lon WHERE new.lat IS NOT NULL;
END;

