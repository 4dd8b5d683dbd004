//! Home timelines (docs/feed.md) and the follow-graph read they fall back to.

use std::sync::LazyLock;

use async_trait::async_trait;
use picshare_domain::UserId;
use picshare_store::{
    AuthorShown, FLOOR_BUILDING, FLOOR_COMPLETE, FeedEntry, NewJob, PageCounts, PageRequest,
    StoreResult, TIMELINE_WINDOW, TRIM_ONE_IN, TimelineFloor, TimelineSlice, TimelineStore,
};
use sqlx::{FromRow, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::id_lists::in_ids;
use super::jobs::insert_job;
use super::rows::{PostRow, prefixed_post_columns};
use super::users::{UserRow, author_columns};
use crate::dialect::{
    Db, FAN_OUT_CHUNK, FOR_UPDATE, GREATEST, NIL_UUID, PROBE_PER_ROW, TRIM_TIMELINES, UUID_PARAM,
    background_writer, timeline_stamp_sql,
};
use crate::{SqlStore, db_err};

/// The viewer's newest `$3` feed posts below `$2` and at or above `$4`, read from the graph. Each
/// author (the viewer and each followee that may have posted since `$4`, by
/// `follows.followee_last_posted`) first gives the id of its newest post in that range, one
/// index probe; the `$3`-th largest of those is a lower bound for the page, so only posts at or
/// above it are read. `$4` is nil for the whole graph. A block deletes follows both ways in the
/// same transaction, so followees need no block check.
///
/// `shown_only` leaves taken-down posts out (a read); a build keeps them, as timelines keep
/// every post, so that a reinstated post is back where it was (timeline reads filter them).
fn graph_feed_sql(columns: &str, shown_only: bool) -> String {
    let shown = if shown_only {
        " AND p.taken_down_at IS NULL"
    } else {
        ""
    };
    format!(
        "WITH authors(id) AS (
             SELECT followee_id FROM follows WHERE follower_id = $1 AND followee_last_posted >= $4
             UNION ALL SELECT $1{UUID_PARAM}),
         newest(id, top) AS MATERIALIZED (
             SELECT a.id, (SELECT p.id FROM posts p
                           WHERE p.author_id = a.id AND p.id < $2 AND p.id >= $4{shown}
                           ORDER BY p.id DESC LIMIT 1)
             FROM authors a),
         bound(id) AS (
             SELECT coalesce((SELECT top FROM newest WHERE top IS NOT NULL
                              ORDER BY top DESC LIMIT 1 OFFSET $3 - 1), {NIL_UUID}))
         SELECT {columns} FROM newest n CROSS JOIN bound b
         JOIN posts p ON p.author_id = n.id AND p.id >= b.id AND p.id >= $4 AND p.id < $2
         WHERE n.top >= b.id{shown}
         ORDER BY p.id DESC LIMIT $3"
    )
}

/// How finely `follows.followee_last_posted` tracks a followee's newest post: every post of the
/// followee is older than the end of this span (UUIDv7 time, from the epoch) holding that id. So
/// a followee's follow rows are rewritten at most once per span, whatever they post in it.
const LAST_POSTED_SPAN_MS: u128 = 3_600_000;

/// The smallest id of the span holding `id` (see `LAST_POSTED_SPAN_MS`).
pub(crate) fn span_start(id: Uuid) -> Uuid {
    let millis = id.as_u128() >> 80;
    Uuid::from_u128((millis - millis % LAST_POSTED_SPAN_MS) << 80)
}

/// Where a first page of the graph read may start looking (`$4` of `graph_feed_sql`): the start
/// of the span of the followee ranked `limit + 1` by `followee_last_posted`. Each followee ranked
/// above has a post at or above it, unless it was deleted or taken down since, and every
/// followee ranked below has posted only before it. `None` for fewer followees: the whole graph
/// is as cheap.
pub(crate) async fn first_page_since(
    pool: &sqlx::Pool<Db>,
    viewer: UserId,
    limit: u32,
) -> StoreResult<Option<Uuid>> {
    let ranked: Option<Uuid> = sqlx::query_scalar(
        "SELECT followee_last_posted FROM follows WHERE follower_id = $1
         ORDER BY followee_last_posted DESC LIMIT 1 OFFSET $2",
    )
    .bind(viewer.0)
    .bind(i64::from(limit))
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    Ok(ranked.map(span_start))
}

/// Keeps `follows.followee_last_posted` true for the author's new post: unless the author
/// already has another post in its span, every follow of the author marks it. Run with the
/// author's row locked: a new follow reads the author's newest post under the same lock, so
/// the two never miss each other.
pub(crate) async fn mark_last_posted(
    tx: &mut Transaction<'_, Db>,
    author: UserId,
    post: Uuid,
) -> StoreResult<()> {
    let since = span_start(post);
    let marked: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM posts WHERE author_id = $1 AND id >= $2 AND id <> $3)",
    )
    .bind(author.0)
    .bind(since)
    .bind(post)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)?;
    if !marked {
        sqlx::query(
            "UPDATE follows SET followee_last_posted = $2
             WHERE followee_id = $1 AND followee_last_posted < $3",
        )
        .bind(author.0)
        .bind(post)
        .bind(since)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// The graph read of whole posts (`PostStore::home_feed`).
pub(crate) static GRAPH_FEED_SQL: LazyLock<String> =
    LazyLock::new(|| graph_feed_sql(&prefixed_post_columns(), true));

/// A build: the newest window of the viewer's feed from the graph into their timeline.
static BUILD_TIMELINE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO home_timeline (user_id, post_id, author_id)
         SELECT $1, id, author_id FROM ({}) g WHERE true ON CONFLICT DO NOTHING",
        graph_feed_sql("p.id, p.author_id", false)
    )
});

/// Each timeline an author's post reached (`$1` the author), with the id its entries are cut
/// below to keep `$2` + 1 of them; `dialect::TRIM_TIMELINES` applies the cuts.
const TRIM_CUTS: &str = "WITH cuts(user_id, cut) AS MATERIALIZED (
         SELECT s.user_id, (SELECT h.post_id FROM home_timeline h WHERE h.user_id = s.user_id
                            ORDER BY h.post_id DESC LIMIT 1 OFFSET $2)
         FROM timeline_state s
         WHERE s.user_id IN (SELECT follower_id FROM follows WHERE followee_id = $1)
            OR s.user_id = $1)";

/// A page of a timeline (see `timeline_slice`), built once: it runs on every feed read. The
/// newest `$3` entries of the viewer's timeline below `$2` and at or above its floor, whose post
/// exists and is not taken down and whose author the viewer still follows, newest first (a
/// post's author always exists: posts go with their author). See `dialect::PROBE_PER_ROW`.
static TIMELINE_PAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $1)
                    AS liked_by_me
             FROM home_timeline t JOIN posts p ON p.id = t.post_id JOIN users u ON u.id = p.author_id AND u.deleted_at IS NULL
             WHERE t.user_id = $1 AND t.post_id < $2
               AND t.post_id >= (SELECT floor FROM timeline_state WHERE user_id = $1)
               AND p.taken_down_at IS NULL
               AND (t.author_id = $1 OR EXISTS (SELECT 1 FROM follows f
                    WHERE f.follower_id = $1 AND f.followee_id = t.author_id{PROBE_PER_ROW}))
             ORDER BY t.post_id DESC LIMIT $3",
        prefixed_post_columns(),
        author_columns(),
    )
});

/// The newest `entries` entries of the `viewer`'s timeline below `after` and at or above its
/// floor, all of them: the ids a cached page's stamp lists. Index-only on the primary key, one
/// descent — every other change a page would show bumps the timeline's version instead
/// (`touch_timeline`, `touch_timelines_showing`).
pub(crate) fn stamp_entries_sql(viewer: &str, after: &str, entries: &str) -> String {
    format!(
        "SELECT post_id FROM home_timeline
         WHERE user_id = {viewer} AND post_id < {after} AND post_id >= s.floor
         ORDER BY post_id DESC LIMIT {entries}"
    )
}

/// What a cached page is checked against (`TimelineStore::timeline_stamp`): the timeline's
/// version and floor, and the ids of its newest entries from the page's cursor on.
static TIMELINE_STAMP_SQL: LazyLock<String> =
    LazyLock::new(|| timeline_stamp_sql("$1", &stamp_entries_sql("$1", "$2", "$3")));

/// The cursor and entry count a page's stamp reads with (`stamp_entries_sql`): `limit + 1`
/// entries, so that the stamp also covers whether a next page exists.
pub(crate) fn stamp_bounds(page: PageRequest) -> (Uuid, i64) {
    (page.after.unwrap_or(Uuid::max()), i64::from(page.limit) + 1)
}

/// The viewer's timeline stamp for the page (`TimelineStore::timeline_stamp`), read by a query
/// of its own.
pub(crate) async fn read_timeline_stamp_alone(
    pool: &sqlx::Pool<Db>,
    viewer: UserId,
    page: PageRequest,
) -> StoreResult<Option<String>> {
    let (after, entries) = stamp_bounds(page);
    sqlx::query_scalar(&TIMELINE_STAMP_SQL)
        .bind(viewer.0)
        .bind(after)
        .bind(entries)
        .fetch_optional(pool)
        .await
        .map_err(db_err)
}

/// The user's timeline shows something new without its entries changing (a like of theirs, a
/// follow change), so pages cached for the old state no longer match.
pub(crate) async fn touch_timeline(tx: &mut Transaction<'_, Db>, user: UserId) -> StoreResult<()> {
    sqlx::query("UPDATE timeline_state SET version = version + 1 WHERE user_id = $1")
        .bind(user.0)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Posts that timelines hold changed or are going (an edit, a takedown or reinstatement, a
/// deletion): each timeline holding one counts a new version, so no page cached before matches
/// — the stamp lists entry ids only. Run before the entries go, with the posts' rows locked
/// first (a like locks its post, then the liker's timeline: the same order). The timelines are
/// locked in id order, so two such bumps sharing timelines never deadlock.
pub(crate) async fn touch_timelines_showing(
    tx: &mut Transaction<'_, Db>,
    posts: &[Uuid],
) -> StoreResult<()> {
    let mut query = QueryBuilder::<Db>::new(
        "UPDATE timeline_state SET version = version + 1 WHERE user_id IN (
             SELECT user_id FROM timeline_state
             WHERE user_id IN (SELECT user_id FROM home_timeline WHERE post_id",
    );
    in_ids(&mut query, posts.iter().copied());
    query.push(format!(") ORDER BY user_id{FOR_UPDATE})"));
    query.build().execute(&mut **tx).await.map_err(db_err)?;
    Ok(())
}

/// Puts a new post in its author's own timeline, if they have one.
pub(crate) async fn add_own_post(
    tx: &mut Transaction<'_, Db>,
    author: UserId,
    post: Uuid,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO home_timeline (user_id, post_id, author_id)
         SELECT user_id, $2, $1 FROM timeline_state WHERE user_id = $1",
    )
    .bind(author.0)
    .bind(post)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// After a new follow: the followee's posts the follower's timeline vouches for go into it. If
/// the followee has more than a window of them, the floor rises to the oldest one written.
pub(crate) async fn backfill(
    tx: &mut Transaction<'_, Db>,
    follower: UserId,
    followee: UserId,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO home_timeline (user_id, post_id, author_id)
         SELECT * FROM (SELECT s.user_id, p.id, p.author_id FROM timeline_state s
                        JOIN posts p ON p.author_id = $2 AND p.id >= s.floor
                        WHERE s.user_id = $1 ORDER BY p.id DESC LIMIT $3) w WHERE true
         ON CONFLICT DO NOTHING",
    )
    .bind(follower.0)
    .bind(followee.0)
    .bind(i64::from(TIMELINE_WINDOW))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    sqlx::query(&format!(
        "UPDATE timeline_state SET floor = {GREATEST}(floor, cut) FROM (
             SELECT p.id AS cut FROM timeline_state s
             JOIN posts p ON p.author_id = $2 AND p.id >= s.floor
             WHERE s.user_id = $1 ORDER BY p.id DESC LIMIT 1 OFFSET $3 - 1) AS cut_row
         WHERE user_id = $1"
    ))
    .bind(follower.0)
    .bind(followee.0)
    .bind(i64::from(TIMELINE_WINDOW))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    touch_timeline(tx, follower).await
}

/// After an unfollow or a block: the author's posts leave the user's timeline.
pub(crate) async fn forget_author(
    tx: &mut Transaction<'_, Db>,
    user: UserId,
    author: UserId,
) -> StoreResult<()> {
    // The version first: its row lock waits for a build of this timeline in flight, so the
    // delete then sees the build's rows.
    touch_timeline(tx, user).await?;
    sqlx::query("DELETE FROM home_timeline WHERE user_id = $1 AND author_id = $2")
        .bind(user.0)
        .bind(author.0)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

impl SqlStore {
    /// Feed entries from rows of post columns, `a_` author columns and `liked_by_me`, with the
    /// media of all of them fetched in one query.
    async fn feed_entries(&self, rows: Vec<crate::dialect::Row>) -> StoreResult<Vec<FeedEntry>> {
        let mut posts = Vec::with_capacity(rows.len());
        let mut readers = Vec::with_capacity(rows.len());
        for row in &rows {
            posts.push(PostRow::from_row(row).map_err(db_err)?);
            let author = UserRow::from_author_columns(row).map_err(db_err)?;
            let liked: bool = row.try_get("liked_by_me").map_err(db_err)?;
            readers.push((author.into_user()?, liked));
        }
        Ok(self
            .load_posts(posts)
            .await?
            .into_iter()
            .zip(readers)
            .map(|(post, (author, liked_by_me))| FeedEntry {
                post,
                author,
                liked_by_me,
            })
            .collect())
    }
}

#[async_trait]
impl TimelineStore for SqlStore {
    async fn timeline_slice(
        &self,
        viewer: UserId,
        page: PageRequest,
    ) -> StoreResult<Option<TimelineSlice>> {
        // One query for a page in the common case: entries at or above the floor, their posts,
        // authors and the viewer's likes. An entry whose author the viewer no longer follows (a
        // fan-out that raced an unfollow) is skipped; deleted posts are gone with their entries.
        let rows = sqlx::query(&TIMELINE_PAGE_SQL)
            .bind(viewer.0)
            .bind(page.after.unwrap_or(Uuid::max()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let floor = if rows.len() > page.limit as usize {
            None
        } else {
            let floor: Option<Uuid> =
                sqlx::query_scalar("SELECT floor FROM timeline_state WHERE user_id = $1")
                    .bind(viewer.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
            if floor.is_none() {
                return Ok(None);
            }
            floor
        };
        let entries = self.feed_entries(rows).await?;
        Ok(Some(TimelineSlice {
            entries,
            floor: floor.map(TimelineFloor::from_stored),
        }))
    }

    async fn timeline_stamp(
        &self,
        viewer: UserId,
        page: PageRequest,
    ) -> StoreResult<Option<String>> {
        self.read_timeline_stamp(viewer, page).await
    }

    async fn page_counts(&self, posts: &[Uuid]) -> StoreResult<Vec<PageCounts>> {
        let mut query = QueryBuilder::<Db>::new(format!(
            "SELECT p.id, p.like_count, p.comment_count, {} FROM posts p
             JOIN users u ON u.id = p.author_id AND u.deleted_at IS NULL
             WHERE p.taken_down_at IS NULL AND p.id",
            author_columns()
        ));
        in_ids(&mut query, posts.iter().copied());
        query.push(" ORDER BY p.id DESC");
        let rows = query.build().fetch_all(&self.pool).await.map_err(db_err)?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            let author = UserRow::from_author_columns(row)
                .map_err(db_err)?
                .into_user()?;
            counts.push(PageCounts {
                post_id: row.try_get("id").map_err(db_err)?,
                like_count: row.try_get("like_count").map_err(db_err)?,
                comment_count: row.try_get("comment_count").map_err(db_err)?,
                author: AuthorShown::from(&author),
            });
        }
        Ok(counts)
    }

    async fn start_timeline(
        &self,
        viewer: UserId,
        build: &NewJob,
        restart: bool,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        if restart {
            sqlx::query("DELETE FROM home_timeline WHERE user_id = $1")
                .bind(viewer.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        // A restart keeps the row and its version counting, so no page cached before matches the
        // rebuilt timeline.
        let started = sqlx::query(
            "INSERT INTO timeline_state (user_id, floor)
             SELECT id, $1 FROM users WHERE id = $2
             ON CONFLICT (user_id) DO UPDATE SET floor = excluded.floor, version = timeline_state.version + 1
             WHERE $3",
        )
        .bind(FLOOR_BUILDING)
        .bind(viewer.0)
        .bind(restart)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if started {
            insert_job(&mut tx, build).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(started)
    }

    async fn build_timeline(&self, viewer: UserId) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let exists: Option<i32> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM timeline_state WHERE user_id = $1{FOR_UPDATE}"
        ))
        .bind(viewer.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if exists.is_none() {
            return Ok(false);
        }
        sqlx::query(&BUILD_TIMELINE_SQL)
            .bind(viewer.0)
            .bind(Uuid::max())
            .bind(i64::from(TIMELINE_WINDOW))
            .bind(Uuid::nil())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let cut: Option<Uuid> = sqlx::query_scalar(
            "SELECT post_id FROM home_timeline WHERE user_id = $1
             ORDER BY post_id DESC LIMIT 1 OFFSET $2",
        )
        .bind(viewer.0)
        .bind(i64::from(TIMELINE_WINDOW) - 1)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE timeline_state SET floor = $1 WHERE user_id = $2")
            .bind(cut.unwrap_or(FLOOR_COMPLETE))
            .bind(viewer.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn fan_out(&self, post: Uuid) -> StoreResult<u64> {
        let author: Option<Uuid> = sqlx::query_scalar("SELECT author_id FROM posts WHERE id = $1")
            .bind(post)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let Some(author) = author else {
            // Deleted before its fan-out ran.
            return Ok(0);
        };
        let mut written = 0;
        let mut after = Uuid::nil();
        loop {
            // The follow that ends this chunk (by the followers index); none for the last.
            let last: Option<Uuid> = match FAN_OUT_CHUNK {
                Some(chunk) => sqlx::query_scalar(
                    "SELECT id FROM follows WHERE followee_id = $1 AND id > $2
                     ORDER BY id LIMIT 1 OFFSET $3",
                )
                .bind(author)
                .bind(after)
                .bind(chunk - 1)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?,
                None => None,
            };
            let upto = if last.is_some() {
                " AND f.id <= $4"
            } else {
                ""
            };
            // The turn is held for one chunk: a user's write waits for a chunk, not a fan-out.
            let sql = format!(
                "INSERT INTO home_timeline (user_id, post_id, author_id)
                 SELECT f.follower_id, $2, $1 FROM follows f
                 JOIN timeline_state s ON s.user_id = f.follower_id
                 WHERE f.followee_id = $1 AND f.id > $3{upto}
                   AND EXISTS (SELECT 1 FROM posts WHERE id = $2)
                 ON CONFLICT DO NOTHING"
            );
            let mut chunk = sqlx::query(&sql).bind(author).bind(post).bind(after);
            if let Some(last) = last {
                chunk = chunk.bind(last);
            }
            let (_turn, writer) = background_writer(self).await?;
            written += chunk.execute(writer).await.map_err(db_err)?.rows_affected();
            match last {
                Some(last) => after = last,
                None => break,
            }
        }
        // One post in TRIM_ONE_IN (by its random bits) also trims the followers' timelines.
        if post.as_u128().is_multiple_of(TRIM_ONE_IN) {
            self.trim_timelines(UserId(author)).await?;
        }
        Ok(written)
    }

    async fn trim_timelines(&self, author: UserId) -> StoreResult<()> {
        let (_turn, mut tx) = self.background_tx().await?;
        // Floors first, from the same cuts the delete then applies.
        for tail in TRIM_TIMELINES {
            sqlx::query(&format!("{TRIM_CUTS} {tail}"))
                .bind(author.0)
                .bind(i64::from(TIMELINE_WINDOW) - 1)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }
}
