//! Bulk loading of a generated dataset into either backend (multi-row inserts in large batches,
//! one transaction per batch), then counters via the store's own recount.

use std::time::Instant;

use sqlx::{PgPool, QueryBuilder, SqlitePool};

use picshare_domain::search::{fold_tag, fold_words, name_words};

use crate::dataset::{Dataset, media_of};
use crate::words;

const BATCH: usize = 5_000;
const BLURHASH: &str = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";

/// What the worker would have stored for a 1080×810 photo.
fn variants(media: &uuid::Uuid) -> String {
    serde_json::json!([
        {"name": "thumb", "key": format!("media/{media}/thumb.jpg"), "width": 320, "height": 320, "content_type": "image/jpeg"},
        {"name": "medium", "key": format!("media/{media}/medium.jpg"), "width": 1080, "height": 810, "content_type": "image/jpeg"},
    ])
    .to_string()
}

/// The typo dictionary's words (`name_words`) of every generated account, each once.
fn dictionary(data: &Dataset) -> Vec<String> {
    let words: std::collections::BTreeSet<String> = (0..data.users.len())
        .flat_map(|index| name_words(&handle(index), &fold_words(&words::display_name(index))))
        .collect();
    words.into_iter().collect()
}

/// Every generated post's media item, then the hot author's spare uploads: (media, owner).
fn media_rows(data: &Dataset) -> Vec<(uuid::Uuid, uuid::Uuid)> {
    let posts = data
        .posts
        .iter()
        .map(|(author, id)| (media_of(*id), data.users[*author]));
    let spare = data
        .spare_media
        .iter()
        .map(|id| (*id, data.users[data.hot_author]));
    posts.chain(spare).collect()
}

fn handle(index: usize) -> String {
    words::handle(index)
}

/// What the app stores for a post's caption: its text, hashtags, folded words and location.
struct PostText {
    caption: String,
    hashtags: Vec<String>,
    search_text: String,
    location: Option<(String, f64, f64)>,
}

fn post_text(id: uuid::Uuid) -> PostText {
    let caption = words::caption(id);
    let hashtags = picshare_domain::social::hashtags(&caption);
    PostText {
        search_text: fold_words(&caption),
        hashtags,
        location: words::location(id),
        caption,
    }
}

fn micros(id: &uuid::Uuid) -> i64 {
    id.get_timestamp()
        .map(|t| {
            let (secs, nanos) = t.to_unix();
            secs as i64 * 1_000_000 + i64::from(nanos / 1000)
        })
        .unwrap_or(0)
}

fn timestamp(id: &uuid::Uuid) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros(id)) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

pub async fn sqlite(pool: &SqlitePool, data: &Dataset, password_hash: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    for chunk in data.users.chunks(BATCH / 5).enumerate() {
        let (batch, ids) = chunk;
        let mut insert = QueryBuilder::new(
            "INSERT INTO users (id, handle, email, password_hash, created_at, updated_at,
                                display_name, search_name) ",
        );
        insert.push_values(ids.iter().enumerate(), |mut row, (offset, id)| {
            let index = batch * (BATCH / 5) + offset;
            let name = words::display_name(index);
            row.push_bind(*id)
                .push_bind(handle(index))
                .push_bind(format!("{}@bench.example", handle(index)))
                .push_bind(password_hash)
                .push_bind(micros(id))
                .push_bind(micros(id))
                .push_bind(name.clone())
                .push_bind(fold_words(&name));
        });
        insert.build().execute(pool).await?;
    }
    for chunk in dictionary(data).chunks(BATCH / 5) {
        let mut insert = QueryBuilder::new("INSERT OR IGNORE INTO name_words (word, added_at) ");
        let now = micros(&uuid::Uuid::now_v7());
        insert.push_values(chunk, |mut row, word| {
            row.push_bind(word.clone()).push_bind(now);
        });
        insert.build().execute(pool).await?;
    }
    let newest = data.newest_posts();
    for chunk in data.follows.chunks(BATCH / 5) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO follows (follower_id, followee_id, id, created_at, followee_last_posted) ",
        );
        insert.push_values(chunk, |mut row, (a, b)| {
            let id = uuid::Uuid::now_v7();
            row.push_bind(data.users[*a])
                .push_bind(data.users[*b])
                .push_bind(id)
                .push_bind(micros(&id))
                .push_bind(newest[*b]);
        });
        insert.build().execute(pool).await?;
    }
    for chunk in data.posts.chunks(BATCH / 5) {
        let texts: Vec<PostText> = chunk.iter().map(|(_, id)| post_text(*id)).collect();
        let mut insert = QueryBuilder::new(
            "INSERT INTO posts (id, author_id, caption, visibility, created_at, hashtags,
                                search_text, location_name, lat, lon) ",
        );
        insert.push_values(chunk.iter().zip(&texts), |mut row, ((author, id), text)| {
            let place = text.location.as_ref();
            row.push_bind(*id)
                .push_bind(data.users[*author])
                .push_bind(text.caption.clone())
                .push_bind("public")
                .push_bind(micros(id))
                .push_bind(sqlx::types::Json(text.hashtags.clone()))
                .push_bind(text.search_text.clone())
                .push_bind(place.map(|(name, _, _)| name.clone()))
                .push_bind(place.map(|(_, lat, _)| *lat))
                .push_bind(place.map(|(_, _, lon)| *lon));
        });
        insert.build().execute(pool).await?;
        let tags: Vec<(uuid::Uuid, String)> = tag_rows(chunk, &texts);
        if !tags.is_empty() {
            let mut insert =
                QueryBuilder::new("INSERT OR IGNORE INTO post_hashtags (post_id, tag) ");
            insert.push_values(&tags, |mut row, (post, tag)| {
                row.push_bind(*post).push_bind(tag.clone());
            });
            insert.build().execute(pool).await?;
        }
    }
    sqlite_media(pool, &media_rows(data)).await?;
    for chunk in data.posts.chunks(BATCH / 5) {
        let mut insert = QueryBuilder::new("INSERT INTO post_media (post_id, media_id, position) ");
        insert.push_values(chunk, |mut row, (_, id)| {
            row.push_bind(*id).push_bind(media_of(*id)).push_bind(0);
        });
        insert.build().execute(pool).await?;
    }
    println!(
        "loaded into SQLite in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn postgres(pool: &PgPool, data: &Dataset, password_hash: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    for (batch, ids) in data.users.chunks(BATCH).enumerate() {
        let handles: Vec<String> = (0..ids.len()).map(|i| handle(batch * BATCH + i)).collect();
        let emails: Vec<String> = handles
            .iter()
            .map(|h| format!("{h}@bench.example"))
            .collect();
        let times: Vec<time::OffsetDateTime> = ids.iter().map(timestamp).collect();
        let names: Vec<String> = (0..ids.len())
            .map(|i| words::display_name(batch * BATCH + i))
            .collect();
        let folded: Vec<String> = names.iter().map(|name| fold_words(name)).collect();
        sqlx::query(
            "INSERT INTO users (id, handle, email, password_hash, created_at, updated_at,
                                display_name, search_name)
             SELECT id, handle, email, $4, at, at, name, folded
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $5::timestamptz[], $6::text[], $7::text[])
                 AS t(id, handle, email, at, name, folded)",
        )
        .bind(ids)
        .bind(&handles)
        .bind(&emails)
        .bind(password_hash)
        .bind(&times)
        .bind(&names)
        .bind(&folded)
        .execute(pool)
        .await?;
    }
    for chunk in dictionary(data).chunks(BATCH) {
        sqlx::query(
            "INSERT INTO name_words (word, added_at) SELECT UNNEST($1::text[]), now()
             ON CONFLICT DO NOTHING",
        )
        .bind(chunk)
        .execute(pool)
        .await?;
    }
    let newest = data.newest_posts();
    for chunk in data.follows.chunks(BATCH * 4) {
        let followers: Vec<uuid::Uuid> = chunk.iter().map(|(a, _)| data.users[*a]).collect();
        let followees: Vec<uuid::Uuid> = chunk.iter().map(|(_, b)| data.users[*b]).collect();
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|_| uuid::Uuid::now_v7()).collect();
        let last_posted: Vec<uuid::Uuid> = chunk.iter().map(|(_, b)| newest[*b]).collect();
        sqlx::query(
            "INSERT INTO follows (follower_id, followee_id, id, created_at, followee_last_posted)
             SELECT a, b, id, now(), last FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[])
                 AS t(a, b, id, last)",
        )
        .bind(&followers)
        .bind(&followees)
        .bind(&ids)
        .bind(&last_posted)
        .execute(pool)
        .await?;
    }
    for chunk in data.posts.chunks(BATCH * 4) {
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|(_, id)| *id).collect();
        let authors: Vec<uuid::Uuid> = chunk.iter().map(|(a, _)| data.users[*a]).collect();
        let times: Vec<time::OffsetDateTime> = ids.iter().map(timestamp).collect();
        let texts: Vec<PostText> = ids.iter().map(|id| post_text(*id)).collect();
        let captions: Vec<&str> = texts.iter().map(|t| t.caption.as_str()).collect();
        let hashtags: Vec<String> = texts
            .iter()
            .map(|t| serde_json::to_string(&t.hashtags).unwrap_or_else(|_| "[]".into()))
            .collect();
        let folded: Vec<&str> = texts.iter().map(|t| t.search_text.as_str()).collect();
        let places: Vec<Option<&str>> = texts
            .iter()
            .map(|t| t.location.as_ref().map(|(name, _, _)| name.as_str()))
            .collect();
        let lats: Vec<Option<f64>> = texts
            .iter()
            .map(|t| t.location.as_ref().map(|(_, lat, _)| *lat))
            .collect();
        let lons: Vec<Option<f64>> = texts
            .iter()
            .map(|t| t.location.as_ref().map(|(_, _, lon)| *lon))
            .collect();
        sqlx::query(
            "INSERT INTO posts (id, author_id, caption, visibility, created_at, hashtags,
                                search_text, location_name, lat, lon)
             SELECT id, author, caption, 'public', at, tags::jsonb, folded, place, lat, lon
             FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::float8[], $9::float8[])
                 AS t(id, author, at, caption, tags, folded, place, lat, lon)",
        )
        .bind(&ids)
        .bind(&authors)
        .bind(&times)
        .bind(&captions)
        .bind(&hashtags)
        .bind(&folded)
        .bind(&places)
        .bind(&lats)
        .bind(&lons)
        .execute(pool)
        .await?;
        let (posts, tags): (Vec<uuid::Uuid>, Vec<String>) =
            tag_rows(chunk, &texts).into_iter().unzip();
        sqlx::query(
            "INSERT INTO post_hashtags (post_id, tag)
             SELECT post, tag FROM UNNEST($1::uuid[], $2::text[]) AS t(post, tag)
             ON CONFLICT DO NOTHING",
        )
        .bind(&posts)
        .bind(&tags)
        .execute(pool)
        .await?;
    }
    postgres_media(pool, &media_rows(data)).await?;
    for chunk in data.posts.chunks(BATCH * 4) {
        let posts: Vec<uuid::Uuid> = chunk.iter().map(|(_, id)| *id).collect();
        let media: Vec<uuid::Uuid> = posts.iter().map(|id| media_of(*id)).collect();
        sqlx::query(
            "INSERT INTO post_media (post_id, media_id, position)
             SELECT post, media, 0 FROM UNNEST($1::uuid[], $2::uuid[]) AS t(post, media)",
        )
        .bind(&posts)
        .bind(&media)
        .execute(pool)
        .await?;
    }
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    println!(
        "loaded into PostgreSQL in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `post_hashtags` rows of a batch: each post's tags, folded.
fn tag_rows(chunk: &[(usize, uuid::Uuid)], texts: &[PostText]) -> Vec<(uuid::Uuid, String)> {
    chunk
        .iter()
        .zip(texts)
        .flat_map(|((_, id), text)| text.hashtags.iter().map(move |tag| (*id, fold_tag(tag))))
        .collect()
}

pub fn handle_of(index: usize) -> String {
    handle(index)
}

/// Ready, unattached post media for `(media, owner)` pairs, as the worker would have left them.
pub async fn ready_media(
    database_url: &str,
    rows: &[(uuid::Uuid, uuid::Uuid)],
) -> anyhow::Result<()> {
    if database_url.starts_with("sqlite:") {
        sqlite_media(&SqlitePool::connect(database_url).await?, rows).await
    } else {
        postgres_media(&PgPool::connect(database_url).await?, rows).await
    }
}

async fn sqlite_media(pool: &SqlitePool, rows: &[(uuid::Uuid, uuid::Uuid)]) -> anyhow::Result<()> {
    for chunk in rows.chunks(BATCH / 10) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO media (id, owner_id, purpose, status, content_type, size_bytes, width, height,
                                blurhash, variants, upload_expires_at, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut row, (id, owner)| {
            row.push_bind(*id)
                .push_bind(*owner)
                .push_bind("post")
                .push_bind("ready")
                .push_bind("image/jpeg")
                .push_bind(2_000_000)
                .push_bind(1080)
                .push_bind(810)
                .push_bind(BLURHASH)
                .push_bind(variants(id))
                .push_bind(micros(id))
                .push_bind(micros(id))
                .push_bind(micros(id));
        });
        insert.build().execute(pool).await?;
    }
    Ok(())
}

async fn postgres_media(pool: &PgPool, rows: &[(uuid::Uuid, uuid::Uuid)]) -> anyhow::Result<()> {
    for chunk in rows.chunks(BATCH * 2) {
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|(id, _)| *id).collect();
        let owners: Vec<uuid::Uuid> = chunk.iter().map(|(_, owner)| *owner).collect();
        let variants: Vec<String> = ids.iter().map(variants).collect();
        let times: Vec<time::OffsetDateTime> = ids.iter().map(timestamp).collect();
        sqlx::query(
            "INSERT INTO media (id, owner_id, purpose, status, content_type, size_bytes, width, height,
                                blurhash, variants, upload_expires_at, created_at, updated_at)
             SELECT id, owner, 'post', 'ready', 'image/jpeg', 2000000, 1080, 810,
                    $5, variants::jsonb, at, at, at
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS t(id, owner, variants, at)",
        )
        .bind(&ids)
        .bind(&owners)
        .bind(&variants)
        .bind(&times)
        .bind(BLURHASH)
        .execute(pool)
        .await?;
    }
    Ok(())
}
