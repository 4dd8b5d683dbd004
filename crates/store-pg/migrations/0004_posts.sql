CREATE TABLE posts (
    id            uuid PRIMARY KEY,
    author_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    caption       text NOT NULL,
    visibility    text NOT NULL CHECK (visibility IN ('public', 'followers')),
    location_name text,
    lat           double precision,
    lon           double precision,
    hashtags      jsonb NOT NULL DEFAULT '[]',
    like_count    bigint NOT NULL DEFAULT 0,
    comment_count bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    edited_at     timestamptz
);
CREATE INDEX posts_author_idx ON posts (author_id, id);

CREATE TABLE post_media (
    post_id  uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    media_id uuid NOT NULL UNIQUE REFERENCES media (id) ON DELETE CASCADE,
    position integer NOT NULL,
    PRIMARY KEY (post_id, position)
);

CREATE TABLE post_hashtags (
    post_id uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag     text NOT NULL,
    PRIMARY KEY (tag, post_id)
);
CREATE INDEX post_hashtags_post_idx ON post_hashtags (post_id);

CREATE TABLE post_mentions (
    post_id uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    handle  text NOT NULL,
    PRIMARY KEY (post_id, handle)
);

CREATE TABLE likes (
    post_id    uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id         uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX likes_post_idx ON likes (post_id, id);

CREATE TABLE comments (
    id         uuid PRIMARY KEY,
    post_id    uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX comments_post_idx ON comments (post_id, id);
