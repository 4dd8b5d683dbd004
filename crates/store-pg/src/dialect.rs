//! What PostgreSQL does differently from SQLite, for the store code both share
//! (`crates/store-sql`): value representation, write transactions, the few SQL fragments that
//! differ, and job claiming.

use picshare_store::StoreResult;
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;

use crate::{PgStore, db_err};

pub(crate) use crate::statistics::{planner_statistics_unattended, refresh_planner_statistics};

/// The backend's name, as `Store::backend` reports it.
pub(crate) const BACKEND: &str = "postgres";

pub(crate) type Db = Postgres;
pub(crate) type Row = sqlx::postgres::PgRow;

/// Timestamps are `timestamptz`.
pub(crate) type Timestamp = OffsetDateTime;

pub(crate) fn ts(at: OffsetDateTime) -> Timestamp {
    at
}

pub(crate) fn from_ts(at: Timestamp) -> OffsetDateTime {
    at
}

/// Row locks taken by a read that a write in the same transaction depends on.
pub(crate) const FOR_UPDATE: &str = " FOR UPDATE";
/// A JSON parameter, sent as text, stored as `jsonb`.
pub(crate) const JSON_PARAM: &str = "::jsonb";

/// A write transaction; rows it depends on are locked by `FOR UPDATE` where read.
pub(crate) async fn begin_write(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    pool.begin().await.map_err(db_err)
}

/// Nothing: PostgreSQL's writers do not queue behind one another.
pub(crate) type WriteTurn = ();

/// Where background work writes: the one pool (PostgreSQL has concurrent writers).
pub(crate) async fn background_writer(store: &PgStore) -> StoreResult<(WriteTurn, &PgPool)> {
    Ok(((), &store.writer))
}

/// A user's write transaction: like any other here.
pub(crate) async fn begin_user_write(
    store: &PgStore,
) -> StoreResult<Transaction<'static, Postgres>> {
    begin_write(&store.writer).await
}

/// Follows a fan-out writes per statement: all, in one statement, as writers here do not wait
/// for one another.
pub(crate) const FAN_OUT_CHUNK: Option<i64> = None;

/// Claims due jobs (`$1` worker, `$2` lease end, `$3` now, `$4` how many, `$5`–`$6` the lane's
/// priorities): jobs whose lease ran out first, then queued ones by priority and due time.
/// `SKIP LOCKED` lets concurrent workers pass over rows another is claiming instead of waiting;
/// a row locked by one branch but cut by the last `LIMIT` is only locked until the statement ends.
pub(crate) const CLAIM_JOBS: &str = "WITH expired AS (
             SELECT id FROM jobs
             WHERE state = 'running' AND lease_until <= $3 AND priority BETWEEN $5 AND $6
             ORDER BY lease_until LIMIT $4
             FOR UPDATE SKIP LOCKED),
         queued AS (
             SELECT id FROM jobs
             WHERE state = 'queued' AND priority BETWEEN $5 AND $6 AND run_at <= $3
             ORDER BY priority, run_at LIMIT $4
             FOR UPDATE SKIP LOCKED),
         due AS (SELECT id FROM (SELECT id FROM expired UNION ALL SELECT id FROM queued) d LIMIT $4)
         UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, locked_by = $1,
                lease_until = $2, updated_at = $3
         FROM due WHERE jobs.id = due.id
         RETURNING jobs.id, jobs.kind, jobs.payload::text, jobs.attempts, jobs.max_attempts";

/// The unique constraint or index a write was refused by.
pub(crate) fn unique_violation(err: &dyn sqlx::error::DatabaseError) -> Option<String> {
    if !err.is_unique_violation() {
        return None;
    }
    err.constraint().map(str::to_owned)
}

/// Locks two users' rows in id order, so transactions that lock the same pair never deadlock.
pub(crate) async fn lock_users(
    tx: &mut Transaction<'_, Postgres>,
    a: picshare_domain::UserId,
    b: picshare_domain::UserId,
) -> StoreResult<()> {
    sqlx::query("SELECT id FROM users WHERE id IN ($1, $2) ORDER BY id FOR UPDATE")
        .bind(a.0)
        .bind(b.0)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Holds a lock on `name` until the transaction ends, for writes that must not interleave
/// though they touch no common row yet (a 64-bit hash of the name: a collision only waits).
pub(crate) async fn lock_name(tx: &mut Transaction<'_, Postgres>, name: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(name)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// `$1` where a UUID is expected but nothing says so (`SELECT $1` in a `UNION`).
pub(crate) const UUID_PARAM: &str = "::uuid";
/// The smallest id.
pub(crate) const NIL_UUID: &str = "'00000000-0000-0000-0000-000000000000'::uuid";
/// The larger of two values.
pub(crate) const GREATEST: &str = "GREATEST";
/// Ends the follow check of a timeline page: `OFFSET 0` keeps the planner from hashing all of the
/// reader's follows (up to 2000) on every read; a probe per row is 4× cheaper.
pub(crate) const PROBE_PER_ROW: &str = " OFFSET 0";

/// What a cached page is checked against (`TimelineStore::timeline_stamp`): the timeline's
/// version and floor, and the ids of the entries `entries` selects, for the `viewer` expression.
pub(crate) fn timeline_stamp_sql(viewer: &str, entries: &str) -> String {
    format!(
        "SELECT s.version::text || '/' || s.floor::text || '/' || coalesce(
             (SELECT string_agg(t.post_id::text, ',' ORDER BY t.post_id DESC) FROM ({entries}) t), '')
         FROM timeline_state s WHERE s.user_id = {viewer}"
    )
}

/// After `shared::timelines::TRIM_CUTS`: raises the floors of the timelines an author's post
/// reached, then deletes their entries below the new floors.
pub(crate) const TRIM_TIMELINES: [&str; 2] = [
    "UPDATE timeline_state t SET floor = GREATEST(t.floor, c.cut) FROM cuts c
     WHERE c.user_id = t.user_id AND c.cut IS NOT NULL",
    "DELETE FROM home_timeline t USING cuts c
     WHERE t.user_id = c.user_id AND t.post_id < c.cut",
];

/// `= ANY($n)` with the ids as one array parameter: one prepared statement whatever the count.
pub(crate) fn push_id_membership(
    query: &mut sqlx::QueryBuilder<'_, Postgres>,
    ids: Vec<uuid::Uuid>,
) {
    query.push(" = ANY(");
    query.push_bind(ids);
    query.push(")");
}

/// Keeps a row that a write in the same transaction depends on from being deleted meanwhile.
pub(crate) const FOR_SHARE: &str = " FOR SHARE";

/// Compares text byte by byte (prefix ranges), whatever the database's collation.
pub(crate) const BYTEWISE: &str = " COLLATE \"C\"";

/// PostgreSQL weighs a crowded handle prefix or name word against the followers index itself
/// (its statistics see how many share it), so nothing steers it.
pub(crate) const OFF_INDEX: Option<&str> = None;

/// Names are found by word with `LIKE '% word%'`, which the trigram index of `search_name`
/// answers (or the planner walks the followers index and checks each account, as its
/// statistics say): no separate index of words.
pub(crate) fn name_phrase_query(_words: &str) -> Option<String> {
    None
}

/// As `name_phrase_query`.
pub(crate) fn name_words_query(_words: &[String]) -> Option<String> {
    None
}

pub(crate) const NAME_WORDS_MATCH: &str = "";

/// PostgreSQL weighs how many names hold a word from its own statistics.
pub(crate) const NAME_WORD_COUNTS: Option<&str> = None;

/// The terms a caption search looks up: the English stems of its words, stop words left out
/// (the lexemes `post_terms` holds).
pub(crate) async fn caption_terms(pool: &PgPool, words: &str) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT tsvector_to_array(to_tsvector('english', $1))")
        .bind(words)
        .fetch_one(pool)
        .await
        .map_err(db_err)
}

/// Ids of the posts that have every term, from the terms' keys (`post_terms`), merged newest
/// first.
fn push_posts_with_terms(query: &mut sqlx::QueryBuilder<'_, Postgres>, terms: &[String]) {
    query.push("SELECT t0.post_id FROM post_terms t0");
    for (i, term) in terms.iter().enumerate().skip(1) {
        query
            .push(format!(
                " JOIN post_terms t{i} ON t{i}.post_id = t0.post_id AND t{i}.term = "
            ))
            .push_bind(term.clone());
    }
    query.push(" WHERE t0.term = ");
    query.push_bind(terms.first().cloned().unwrap_or_default());
}

/// Each found post's author `a`, looked up by primary key one post at a time: joined plainly,
/// the planner estimates a search's few hundred rows low and hashes the whole users table.
pub(crate) const AUTHOR_JOIN: &str = " CROSS JOIN LATERAL (SELECT id, is_private, suspended_until, deleted_at \
     FROM users WHERE id = p.author_id OFFSET 0) a";

/// What joins a post `p` to the key `k` of `push_best_of_newest`'s rows.
pub(crate) const WINDOW_KEY: &str = "p.id";

/// The newest `window` posts whose caption has every term, each with how well it matches
/// `words` (`ts_rank_cd`, higher is better): rows `(k, score)`. Only the window's posts are
/// read, by key.
pub(crate) fn push_best_of_newest(
    query: &mut sqlx::QueryBuilder<'_, Postgres>,
    terms: &[String],
    words: &str,
    window: u32,
) {
    query.push("SELECT s.id AS k, ts_rank_cd(s.search_vector, websearch_to_tsquery('english', ");
    query.push_bind(words.to_owned());
    query.push("))::float8 AS score FROM (");
    push_posts_with_terms(query, terms);
    query
        .push(" ORDER BY t0.post_id DESC LIMIT ")
        .push_bind(i64::from(window))
        .push(") n JOIN posts s ON s.id = n.post_id");
}

/// earthdistance's globe (metres) is a little larger than `search::EARTH_RADIUS_KM`: boxes are
/// drawn on it a little wider, and distances are measured by the application.
const EARTHDISTANCE_RADIUS_KM: f64 = 6378.168;

/// Located posts `p` within a box around `near` reaching at least `radius_km`, as a source to
/// select from (the planner folds it into the query; the GiST index on `ll_to_earth(lat, lon)`
/// answers the box); the caller measures and filters.
pub(crate) fn push_located_within(
    query: &mut sqlx::QueryBuilder<'_, Postgres>,
    near: &picshare_domain::search::Near,
    radius_km: f64,
) {
    let metres = radius_km * EARTHDISTANCE_RADIUS_KM / picshare_domain::search::EARTH_RADIUS_KM
        * 1000.0
        * 1.001;
    query
        .push("(SELECT * FROM posts WHERE lat IS NOT NULL AND earth_box(ll_to_earth(")
        .push_bind(near.lat)
        .push(", ")
        .push_bind(near.lon)
        .push("), ")
        .push_bind(metres)
        .push(") @> ll_to_earth(lat, lon)) p");
}
