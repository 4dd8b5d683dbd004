//! Bulk loading of a generated dataset into either backend (multi-row inserts in large batches,
//! one transaction per batch), then counters via the store's own recount.

use std::time::Instant;

use sqlx::{PgPool, QueryBuilder, SqlitePool};

use crate::dataset::{Dataset, media_of};

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
    format!("user{index:06}")
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
            "INSERT INTO users (id, handle, email, password_hash, created_at, updated_at) ",
        );
        insert.push_values(ids.iter().enumerate(), |mut row, (offset, id)| {
            let index = batch * (BATCH / 5) + offset;
            row.push_bind(*id)
                .push_bind(handle(index))
                .push_bind(format!("{}@bench.example", handle(index)))
                .push_bind(password_hash)
                .push_bind(micros(id))
                .push_bind(micros(id));
        });
        insert.build().execute(pool).await?;
    }
    for chunk in data.follows.chunks(BATCH / 5) {
        let mut insert =
            QueryBuilder::new("INSERT INTO follows (follower_id, followee_id, id, created_at) ");
        insert.push_values(chunk, |mut row, (a, b)| {
            let id = uuid::Uuid::now_v7();
            row.push_bind(data.users[*a])
                .push_bind(data.users[*b])
                .push_bind(id)
                .push_bind(micros(&id));
        });
        insert.build().execute(pool).await?;
    }
    for chunk in data.posts.chunks(BATCH / 5) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO posts (id, author_id, caption, visibility, created_at) ",
        );
        insert.push_values(chunk, |mut row, (author, id)| {
            row.push_bind(*id)
                .push_bind(data.users[*author])
                .push_bind("a day out")
                .push_bind("public")
                .push_bind(micros(id));
        });
        insert.build().execute(pool).await?;
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
        sqlx::query(
            "INSERT INTO users (id, handle, email, password_hash, created_at, updated_at)
             SELECT id, handle, email, $4, at, at FROM UNNEST($1::uuid[], $2::text[], $3::text[], $5::timestamptz[])
                 AS t(id, handle, email, at)",
        )
        .bind(ids)
        .bind(&handles)
        .bind(&emails)
        .bind(password_hash)
        .bind(&times)
        .execute(pool)
        .await?;
    }
    for chunk in data.follows.chunks(BATCH * 4) {
        let followers: Vec<uuid::Uuid> = chunk.iter().map(|(a, _)| data.users[*a]).collect();
        let followees: Vec<uuid::Uuid> = chunk.iter().map(|(_, b)| data.users[*b]).collect();
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|_| uuid::Uuid::now_v7()).collect();
        sqlx::query(
            "INSERT INTO follows (follower_id, followee_id, id, created_at)
             SELECT a, b, id, now() FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) AS t(a, b, id)",
        )
        .bind(&followers)
        .bind(&followees)
        .bind(&ids)
        .execute(pool)
        .await?;
    }
    for chunk in data.posts.chunks(BATCH * 4) {
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|(_, id)| *id).collect();
        let authors: Vec<uuid::Uuid> = chunk.iter().map(|(a, _)| data.users[*a]).collect();
        let times: Vec<time::OffsetDateTime> = ids.iter().map(timestamp).collect();
        sqlx::query(
            "INSERT INTO posts (id, author_id, caption, visibility, created_at)
             SELECT id, author, 'a day out', 'public', at
             FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[]) AS t(id, author, at)",
        )
        .bind(&ids)
        .bind(&authors)
        .bind(&times)
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
