//! Posts and their media, hashtags and mentions.

use async_trait::async_trait;
use picshare_domain::Media;
use picshare_domain::UserId;
use picshare_domain::search::{fold_tag, fold_words};
use picshare_store::{
    NewJob, NewPost, Page, PageRequest, Post, PostRefusal, PostStore, PostUpdate, StoreResult,
};
use sqlx::{FromRow, Transaction};
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_lists::in_ids;
use super::jobs::insert_job;
use super::media::{MEDIA_COLUMNS, MediaRow};
use super::rows::{POST_COLUMNS, PostRow, corrupt, post_from_row, qualified};
use super::timelines::{
    GRAPH_FEED_SQL, add_own_post, first_page_since, mark_last_posted, touch_timelines_showing,
};
use crate::dialect::{Db, FOR_UPDATE, from_ts, ts};
use crate::{SqlStore, db_err};

#[derive(FromRow)]
struct PostMediaRow {
    post_id: Uuid,
    #[sqlx(flatten)]
    media: MediaRow,
}

impl SqlStore {
    /// Rows of the graph read (`GRAPH_FEED_SQL`): `limit + 1` of them when there is more.
    async fn graph_feed(
        &self,
        viewer: UserId,
        page: PageRequest,
        since: Option<Uuid>,
    ) -> StoreResult<Vec<PostRow>> {
        sqlx::query_as::<_, PostRow>(&GRAPH_FEED_SQL)
            .bind(viewer.0)
            .bind(page.after.unwrap_or(Uuid::max()))
            .bind(i64::from(page.limit) + 1)
            .bind(since.unwrap_or(Uuid::nil()))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn load_post<'e, E>(&self, executor: E, row: PostRow) -> StoreResult<Post>
    where
        E: sqlx::Executor<'e, Database = Db>,
    {
        let media = sqlx::query_as::<_, MediaRow>(&format!(
            "SELECT {} FROM post_media pm JOIN media m ON m.id = pm.media_id
             WHERE pm.post_id = $1 ORDER BY pm.position",
            qualified(MEDIA_COLUMNS, "m")
        ))
        .bind(row.id)
        .fetch_all(executor)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(MediaRow::into_media)
        .collect::<StoreResult<Vec<_>>>()?;
        post_from_row(row, media)
    }

    /// Posts for their rows, with their media from the cache or, for the rest, one query.
    pub(crate) async fn load_posts(&self, rows: Vec<PostRow>) -> StoreResult<Vec<Post>> {
        let mut by_post: HashMap<Uuid, Arc<Vec<Media>>> = HashMap::with_capacity(rows.len());
        let mut missing = Vec::new();
        for row in &rows {
            match self.media_cache.get(row.id, row.edited_at.map(from_ts)) {
                Some(media) => {
                    by_post.insert(row.id, media);
                }
                None => missing.push(row.id),
            }
        }
        if !missing.is_empty() {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT pm.post_id AS post_id, {} FROM post_media pm JOIN media m ON m.id = pm.media_id
                 WHERE pm.post_id",
                qualified(MEDIA_COLUMNS, "m")
            ));
            in_ids(&mut query, missing.iter().copied());
            query.push(" ORDER BY pm.post_id, pm.position");
            let media: Vec<PostMediaRow> = query
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
            let mut fetched: HashMap<Uuid, Vec<Media>> = HashMap::new();
            for row in media {
                fetched
                    .entry(row.post_id)
                    .or_default()
                    .push(row.media.into_media()?);
            }
            for row in rows.iter().filter(|row| missing.contains(&row.id)) {
                let media = Arc::new(fetched.remove(&row.id).unwrap_or_default());
                self.media_cache
                    .insert(row.id, row.edited_at.map(from_ts), media.clone());
                by_post.insert(row.id, media);
            }
        }
        rows.into_iter()
            .map(|row| {
                let media = by_post
                    .get(&row.id)
                    .map(|media| media.as_ref().clone())
                    .unwrap_or_default();
                post_from_row(row, media)
            })
            .collect()
    }

    async fn post_in(&self, tx: &mut Transaction<'_, Db>, id: Uuid) -> StoreResult<Option<Post>> {
        let row = sqlx::query_as::<_, PostRow>(&format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        match row {
            Some(row) => Ok(Some(self.load_post(&mut **tx, row).await?)),
            None => Ok(None),
        }
    }
}

async fn write_tags(
    tx: &mut Transaction<'_, Db>,
    post: Uuid,
    hashtags: &[String],
    mentions: &[String],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM post_hashtags WHERE post_id = $1")
        .bind(post)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    sqlx::query("DELETE FROM post_mentions WHERE post_id = $1")
        .bind(post)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    // Looked up folded (#Café and #cafe are one); shown as written.
    for tag in hashtags {
        sqlx::query(
            "INSERT INTO post_hashtags (post_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(post)
        .bind(fold_tag(tag))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    for handle in mentions {
        sqlx::query(
            "INSERT INTO post_mentions (post_id, handle) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(post)
        .bind(handle)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// Puts `media_ids` on the post in order (positions renumbered from 0).
async fn attach_media(
    tx: &mut Transaction<'_, Db>,
    post: Uuid,
    media_ids: &[Uuid],
) -> StoreResult<bool> {
    sqlx::query("DELETE FROM post_media WHERE post_id = $1")
        .bind(post)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    for (position, media) in media_ids.iter().enumerate() {
        let inserted =
            sqlx::query("INSERT INTO post_media (post_id, media_id, position) VALUES ($1, $2, $3)")
                .bind(post)
                .bind(media)
                .bind(position as i32)
                .execute(&mut **tx)
                .await;
        match inserted {
            Ok(_) => {}
            // A concurrent post took this media first (the check above ran before it committed).
            Err(err)
                if err
                    .as_database_error()
                    .is_some_and(|e| e.is_unique_violation()) =>
            {
                return Ok(false);
            }
            Err(err) => return Err(db_err(err)),
        }
    }
    Ok(true)
}

/// Locks the post's row for the rest of the transaction, before anything else it writes: edits
/// of one post run one after the other, and a deletion takes locks in the order a like does
/// (the post, then timelines).
async fn lock_post(tx: &mut Transaction<'_, Db>, id: Uuid) -> StoreResult<()> {
    sqlx::query(&format!("SELECT 1 FROM posts WHERE id = $1{FOR_UPDATE}"))
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl PostStore for SqlStore {
    async fn create_post(
        &self,
        post: &NewPost,
        jobs: &[NewJob],
    ) -> StoreResult<Result<Post, PostRefusal>> {
        let mut tx = self.write_tx().await?;
        for media in &post.media_ids {
            let usable: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM media m WHERE m.id = $1 AND m.owner_id = $2 AND m.status = 'ready'
                   AND m.purpose = 'post' AND NOT EXISTS (SELECT 1 FROM post_media pm WHERE pm.media_id = m.id)",
            )
            .bind(media)
            .bind(post.author_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if usable.is_none() {
                return Ok(Err(PostRefusal::MediaUnavailable));
            }
        }
        let (name, lat, lon) = match &post.location {
            Some(l) => (Some(l.name.as_str()), Some(l.lat), Some(l.lon)),
            None => (None, None, None),
        };
        sqlx::query(
            "INSERT INTO posts (id, author_id, caption, visibility, location_name, lat, lon, hashtags,
                                created_at, search_text)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(post.id)
        .bind(post.author_id.0)
        .bind(&post.caption)
        .bind(post.visibility.as_str())
        .bind(name)
        .bind(lat)
        .bind(lon)
        .bind(sqlx::types::Json(&post.hashtags))
        .bind(ts(post.created_at))
        .bind(fold_words(&post.caption))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if !attach_media(&mut tx, post.id, &post.media_ids).await? {
            return Ok(Err(PostRefusal::MediaUnavailable));
        }
        write_tags(&mut tx, post.id, &post.hashtags, &post.mentions).await?;
        sqlx::query("UPDATE users SET posts_count = posts_count + 1 WHERE id = $1")
            .bind(post.author_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        mark_last_posted(&mut tx, post.author_id, post.id).await?;
        add_own_post(&mut tx, post.author_id, post.id).await?;
        for job in jobs {
            insert_job(&mut tx, job).await?;
        }
        let created = self
            .post_in(&mut tx, post.id)
            .await?
            .ok_or_else(|| corrupt("post vanished".into()))?;
        tx.commit().await.map_err(db_err)?;
        Ok(Ok(created))
    }

    async fn find_post(&self, id: Uuid) -> StoreResult<Option<Post>> {
        let row = sqlx::query_as::<_, PostRow>(&format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        match row {
            Some(row) => Ok(Some(self.load_post(&self.pool, row).await?)),
            None => Ok(None),
        }
    }

    async fn find_posts(&self, ids: &[Uuid]) -> StoreResult<Vec<Post>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            sqlx::QueryBuilder::new(format!("SELECT {POST_COLUMNS} FROM posts WHERE id"));
        in_ids(&mut query, ids.iter().copied());
        let rows: Vec<PostRow> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        self.load_posts(rows).await
    }

    async fn update_post(
        &self,
        id: Uuid,
        update: &PostUpdate,
        jobs: &[NewJob],
    ) -> StoreResult<Result<Post, PostRefusal>> {
        let mut tx = self.write_tx().await?;
        lock_post(&mut tx, id).await?;
        let Some(current) = self.post_in(&mut tx, id).await? else {
            return Ok(Err(PostRefusal::NotFound));
        };
        if let Some(media_ids) = &update.media_ids {
            let attached: Vec<Uuid> = current.media.iter().map(|m| m.id).collect();
            if media_ids.is_empty() || media_ids.iter().any(|m| !attached.contains(m)) {
                return Ok(Err(PostRefusal::MediaUnavailable));
            }
            if !attach_media(&mut tx, id, media_ids).await? {
                return Ok(Err(PostRefusal::MediaUnavailable));
            }
        }
        if let Some(caption) = &update.caption {
            sqlx::query(
                "UPDATE posts SET caption = $1, hashtags = $2, search_text = $3 WHERE id = $4",
            )
            .bind(&caption.text)
            .bind(sqlx::types::Json(&caption.hashtags))
            .bind(fold_words(&caption.text))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            write_tags(&mut tx, id, &caption.hashtags, &caption.mentions).await?;
        }
        if let Some(visibility) = update.visibility {
            sqlx::query("UPDATE posts SET visibility = $1 WHERE id = $2")
                .bind(visibility.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(location) = &update.location {
            sqlx::query("UPDATE posts SET location_name = $1, lat = $2, lon = $3 WHERE id = $4")
                .bind(location.as_ref().map(|l| l.name.as_str()))
                .bind(location.as_ref().map(|l| l.lat))
                .bind(location.as_ref().map(|l| l.lon))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("UPDATE posts SET edited_at = $1 WHERE id = $2")
            .bind(ts(OffsetDateTime::now_utc()))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        touch_timelines_showing(&mut tx, &[id]).await?;
        for job in jobs {
            insert_job(&mut tx, job).await?;
        }
        let updated = self
            .post_in(&mut tx, id)
            .await?
            .ok_or_else(|| corrupt("post vanished".into()))?;
        tx.commit().await.map_err(db_err)?;
        Ok(Ok(updated))
    }

    async fn delete_post(&self, id: Uuid, cleanup: &NewJob) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        lock_post(&mut tx, id).await?;
        touch_timelines_showing(&mut tx, &[id]).await?;
        // The media records go with the post (their files by the cleanup job).
        sqlx::query(
            "DELETE FROM media WHERE id IN (SELECT media_id FROM post_media WHERE post_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("DELETE FROM home_timeline WHERE post_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let author: Option<Uuid> =
            sqlx::query_scalar("DELETE FROM posts WHERE id = $1 RETURNING author_id")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some(author) = author else {
            return Ok(false);
        };
        sqlx::query("UPDATE users SET posts_count = posts_count - 1 WHERE id = $1")
            .bind(author)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_job(&mut tx, cleanup).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn user_posts(
        &self,
        author: UserId,
        include_followers_only: bool,
        include_taken_down: bool,
        page: PageRequest,
    ) -> StoreResult<Page<Post>> {
        let rows = sqlx::query_as::<_, PostRow>(&format!(
            "SELECT {POST_COLUMNS} FROM posts
             WHERE author_id = $1 AND id < $2 AND ($3 OR visibility = 'public')
               AND ($5 OR taken_down_at IS NULL)
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(author.0)
        .bind(page.after.unwrap_or(Uuid::max()))
        .bind(include_followers_only)
        .bind(i64::from(page.limit) + 1)
        .bind(include_taken_down)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let posts = self
            .load_posts(rows)
            .await?
            .into_iter()
            .map(|post| (post.id, post))
            .collect();
        Ok(Page::from_rows(posts, page.limit))
    }

    async fn home_feed(&self, viewer: UserId, page: PageRequest) -> StoreResult<Page<Post>> {
        // A first page asks only the followees that posted lately; it is the page when they
        // fill it (docs/feed.md, "The graph read").
        let since = if page.after.is_none_or(|after| after == Uuid::max()) {
            first_page_since(&self.pool, viewer, page.limit).await?
        } else {
            None
        };
        let mut rows = self.graph_feed(viewer, page, since).await?;
        if since.is_some() && rows.len() <= page.limit as usize {
            rows = self.graph_feed(viewer, page, None).await?;
        }
        let posts = self
            .load_posts(rows)
            .await?
            .into_iter()
            .map(|post| (post.id, post))
            .collect();
        Ok(Page::from_rows(posts, page.limit))
    }
}
