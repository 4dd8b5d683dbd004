CREATE TABLE posts (
    id            BLOB PRIMARY KEY NOT NULL,
    author_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    caption       TEXT NOT NULL,
    visibility    TEXT NOT NULL CHECK (visibility IN ('public', 'followers')),
    location_name TEXT,
    lat           REAL,
    lon           REAL,
    hashtags      TEXT NOT NULL DEFAULT '[]',
    like_count    INTEGER NOT NULL DEFAULT 0,
    comment_count INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    edited_at     INTEGER
) STRICT;
CREATE INDEX posts_author_idx ON posts (author_id, id);

CREATE TABLE post_media (
    post_id  BLOB NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    media_id BLOB NOT NULL UNIQUE REFERENCES media (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (post_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE post_hashtags (
    post_id BLOB NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (tag, post_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX post_hashtags_post_idx ON post_hashtags (post_id);

CREATE TABLE post_mentions (
    post_id BLOB NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    handle  TEXT NOT NULL,
    PRIMARY KEY (post_id, handle)
) STRICT, WITHOUT ROWID;

CREATE TABLE likes (
    post_id    BLOB NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id         BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (post_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX likes_post_idx ON likes (post_id, id);

CREATE TABLE comments (
    id         BLOB PRIMARY KEY NOT NULL,
    post_id    BLOB NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id  BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX comments_post_idx ON comments (post_id, id);
