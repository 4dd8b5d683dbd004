//! What SQLite does differently from PostgreSQL, for the store code both share
//! (`crates/store-sql`): value representation, write transactions, the few SQL fragments that
//! differ, and job claiming.

use picshare_store::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool, Transaction};
use time::OffsetDateTime;
use tokio::sync::OwnedMutexGuard;

use crate::{SqliteStore, db_err};

/// The backend's name, as `Store::backend` reports it.
pub(crate) const BACKEND: &str = "sqlite";

pub(crate) type Db = Sqlite;
pub(crate) type Row = sqlx::sqlite::SqliteRow;

/// Nothing to refresh: no statement here runs `ANALYZE`, so SQLite plans by its fixed rules
/// (there is no `sqlite_stat1`) whatever the tables hold, and a bulk fill cannot turn a plan.
pub(crate) async fn refresh_planner_statistics(_pool: &SqlitePool) -> StoreResult<Vec<String>> {
    Ok(Vec::new())
}

/// Planning needs no statistics here (`refresh_planner_statistics`).
pub(crate) async fn planner_statistics_unattended(_pool: &SqlitePool) -> StoreResult<bool> {
    Ok(false)
}

/// Timestamps are stored as unix microseconds (STRICT tables have no date type).
pub(crate) type Timestamp = i64;

pub(crate) fn ts(at: OffsetDateTime) -> Timestamp {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

pub(crate) fn from_ts(micros: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Row locks: none — a write transaction holds the whole database.
pub(crate) const FOR_UPDATE: &str = "";
/// A JSON parameter: stored as text as it is.
pub(crate) const JSON_PARAM: &str = "";

/// A write transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`), so
/// read-then-write logic never races another writer nor fails to upgrade its lock.
pub(crate) async fn begin_write(pool: &SqlitePool) -> StoreResult<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
}

/// What a background write holds besides its transaction: its place as the one background
/// write, and the user writers' connection, idle, so background and user writes take turns in
/// one queue instead of meeting at SQLite's lock (whose busy handler would make a user write
/// sleep).
pub(crate) type WriteTurn = Option<(OwnedMutexGuard<()>, PoolConnection<Sqlite>)>;

/// The lower-priority connection (`crate::background`) background work writes on, once it is
/// this write's turn; its statements run in turn with user writes while the turn is held.
pub(crate) async fn background_writer(
    store: &SqliteStore,
) -> StoreResult<(WriteTurn, &SqlitePool)> {
    let Some(background) = &store.background else {
        return Ok((None, &store.writer));
    };
    let turn = background.turn(&store.writer).await?;
    Ok((Some(turn), &background.pool))
}

/// A user's write transaction, on the `writer` connection: counted as waiting meanwhile, so
/// background writes let it go first.
pub(crate) async fn begin_user_write(
    store: &SqliteStore,
) -> StoreResult<Transaction<'static, Sqlite>> {
    let _waiting = store.background.as_ref().map(|b| b.user_waiting());
    begin_write(&store.writer).await
}

/// Follows a fan-out writes per statement: a few milliseconds each, which is as long as a
/// user's write may wait for it.
pub(crate) const FAN_OUT_CHUNK: Option<i64> = Some(200);

/// Claims due jobs (`$1` worker, `$2` lease end, `$3` now, `$4` how many) in one statement:
/// SQLite runs writers one at a time, so no job is claimed twice.
pub(crate) const CLAIM_JOBS: &str =
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1,
                lease_until = $2, updated_at = $3
         WHERE id IN (
             SELECT id FROM (
                 SELECT id FROM jobs
                 WHERE state = 'running' AND lease_until <= $3 AND priority BETWEEN $5 AND $6
                 ORDER BY lease_until LIMIT $4)
             UNION ALL
             SELECT id FROM (
                 SELECT id FROM jobs
                 WHERE state = 'queued' AND priority BETWEEN $5 AND $6 AND run_at <= $3
                 ORDER BY priority, run_at LIMIT $4)
             LIMIT $4)
         RETURNING id, kind, payload, attempts, max_attempts";

/// The unique index a write was refused by, from SQLite's message: `index 'users_handle_key'`
/// for an expression index, `users.email` for a column's (named as PostgreSQL's default would
/// name it: `users_email_key`).
pub(crate) fn unique_violation(err: &dyn sqlx::error::DatabaseError) -> Option<String> {
    if !err.is_unique_violation() {
        return None;
    }
    let failed = err.message().rsplit(": ").next()?;
    if let Some(index) = failed.strip_prefix("index '") {
        return index.strip_suffix('\'').map(str::to_owned);
    }
    let (table, column) = failed.split(", ").next()?.split_once('.')?;
    Some(format!("{table}_{column}_key"))
}

/// Nothing to lock: the write transaction (`BEGIN IMMEDIATE`) already excludes other writers.
pub(crate) async fn lock_users(
    _tx: &mut Transaction<'_, Sqlite>,
    _a: picshare_domain::UserId,
    _b: picshare_domain::UserId,
) -> StoreResult<()> {
    Ok(())
}

/// Nothing to lock: the write transaction already excludes other writers.
pub(crate) async fn lock_name(_tx: &mut Transaction<'_, Sqlite>, _name: &str) -> StoreResult<()> {
    Ok(())
}

/// `$1` where a UUID is expected (SQLite needs no cast).
pub(crate) const UUID_PARAM: &str = "";
/// The smallest id (ids are 16-byte blobs).
pub(crate) const NIL_UUID: &str = "zeroblob(16)";
/// The larger of two values.
pub(crate) const GREATEST: &str = "max";
/// Ends the follow check of a timeline page (SQLite's planner probes per row already).
pub(crate) const PROBE_PER_ROW: &str = "";

/// What a cached page is checked against (`TimelineStore::timeline_stamp`): the timeline's
/// version and floor, and the ids of the entries `entries` selects, for the `viewer` expression.
pub(crate) fn timeline_stamp_sql(viewer: &str, entries: &str) -> String {
    format!(
        "SELECT s.version || '/' || hex(s.floor) || '/' || coalesce(
             (SELECT group_concat(hex(t.post_id), ',' ORDER BY t.post_id DESC) FROM ({entries}) t), '')
         FROM timeline_state s WHERE s.user_id = {viewer}"
    )
}

/// After `shared::timelines::TRIM_CUTS`: raises the floors of the timelines an author's post
/// reached, then deletes their entries below the new floors (SQLite has no `DELETE … USING`).
pub(crate) const TRIM_TIMELINES: [&str; 2] = [
    "UPDATE timeline_state SET floor = max(floor, c.cut) FROM cuts c
     WHERE c.user_id = timeline_state.user_id AND c.cut IS NOT NULL",
    "DELETE FROM home_timeline WHERE user_id IN (SELECT user_id FROM cuts WHERE cut IS NOT NULL)
       AND post_id < (SELECT cut FROM cuts WHERE cuts.user_id = home_timeline.user_id)",
];

/// ` IN ($n, …)`, a parameter per id: SQLite has no array parameters (UUIDs are blobs).
pub(crate) fn push_id_membership(query: &mut sqlx::QueryBuilder<'_, Sqlite>, ids: Vec<uuid::Uuid>) {
    query.push(" IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    list.push_unseparated(")");
}

/// Nothing to lock: the write transaction already excludes other writers.
pub(crate) const FOR_SHARE: &str = "";

/// Compares text byte by byte (SQLite's default, BINARY).
pub(crate) const BYTEWISE: &str = "";

/// Keeps a term off its index (SQLite's unary `+`), so that a handle prefix thousands of
/// accounts share walks the followers index instead and stops at a page, where reading and
/// sorting every match took 5–9 ms. `None`: the planner is left to choose.
pub(crate) const OFF_INDEX: Option<&str> = Some("+");

/// How many names hold each word: FTS5's own counts (`users_words_counts`).
pub(crate) const NAME_WORD_COUNTS: Option<&str> =
    Some("SELECT term, doc FROM users_words_counts LIMIT $1");

/// FTS5 phrase of `text` (folded text holds no double quote; doubled anyway).
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Names with a word starting with `words` (`search::fold_words`), as an FTS5 query of the
/// names' words (`users_words`, see `NAME_WORDS_MATCH`): an FTS5 phrase whose last word is a
/// prefix (`"jose gar" *`).
pub(crate) fn name_phrase_query(words: &str) -> Option<String> {
    Some(format!("{} *", phrase(words.trim())))
}

/// Names with a word starting with one of `words`, as an FTS5 query (`name_phrase_query`).
pub(crate) fn name_words_query(words: &[String]) -> Option<String> {
    let any: Vec<String> = words
        .iter()
        .map(|word| format!("{} *", phrase(word)))
        .collect();
    Some(any.join(" OR "))
}

/// Users `u` whose name matches the FTS5 query bound next, closed by `)`.
pub(crate) const NAME_WORDS_MATCH: &str =
    "u.rowid IN (SELECT rowid FROM users_words WHERE users_words MATCH ";

/// The terms a caption search looks up: its words as they are (`posts_fts` stems them with
/// Porter's stemmer as it matches).
pub(crate) async fn caption_terms(_pool: &SqlitePool, words: &str) -> StoreResult<Vec<String>> {
    Ok(words.split_whitespace().map(str::to_owned).collect())
}

/// Every term, as an FTS5 query.
fn all_terms(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| phrase(term))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each found post's author `a` (SQLite looks it up by primary key per row anyway).
pub(crate) const AUTHOR_JOIN: &str = " JOIN users a ON a.id = p.author_id";

/// What joins a post `p` to the key `k` of `push_best_of_newest`'s rows.
pub(crate) const WINDOW_KEY: &str = "p.rowid";

/// BM25's weighting of a term's occurrences in a caption (k1 = 1.2, b = 0.75), with caption
/// lengths in characters against a typical 60.
const BM25_TF: &str = "* 2.2 / (tf + 1.2 * (0.25 + 0.75 * length(s.search_text) / 60.0))";

/// The newest `window` posts whose caption has every term, in FTS5's own rowid order, each with
/// how well it matches: BM25 without its inverse document frequency, from the words' occurrences
/// at a word's beginning. FTS5's `bm25()` counts every match of each term for that frequency
/// first (30 ms for a word in a quarter of 5 M captions); for one word it orders nothing, and
/// every post found has every word. Rows `(k, score)`.
pub(crate) fn push_best_of_newest(
    query: &mut sqlx::QueryBuilder<'_, Sqlite>,
    terms: &[String],
    _words: &str,
    window: u32,
) {
    query.push("SELECT s.rowid AS k, 0.0");
    for term in terms {
        let pattern = format!(" {term}");
        let length = pattern.chars().count();
        query
            .push(" + (SELECT tf ")
            .push(BM25_TF)
            .push(" FROM (SELECT (length(' ' || s.search_text) - length(replace(' ' || s.search_text, ")
            .push_bind(pattern)
            .push(format!(", ''))) / {length} AS tf))"));
    }
    query
        .push(" AS score FROM (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ")
        .push_bind(all_terms(terms))
        .push(" ORDER BY rowid DESC LIMIT ")
        .push_bind(i64::from(window))
        .push(") f JOIN posts s ON s.rowid = f.rowid");
}

/// Located posts `p` within a box reaching `radius_km` around `near` (two boxes across the
/// antimeridian), as a source to select from: read from the R*Tree one post at a time, so that a
/// round stops at its limit however many posts the box holds (as `rowid IN (…)`, every post in
/// the box was read first).
pub(crate) fn push_located_within(
    query: &mut sqlx::QueryBuilder<'_, Sqlite>,
    near: &picshare_domain::search::Near,
    radius_km: f64,
) {
    // The R*Tree keeps 32-bit bounds rounded outwards: boxes a little wider (0.001°, ~100 m)
    // keep points on their edge.
    const SLACK: f64 = 0.001;
    let circle = picshare_domain::search::Near { radius_km, ..*near };
    query.push("(");
    for (i, (south, north, west, east)) in circle.bounding_boxes().into_iter().enumerate() {
        let (south, north) = (south - SLACK, north + SLACK);
        let (west, east) = (west - SLACK, east + SLACK);
        if i > 0 {
            query.push(" UNION ALL ");
        }
        query
            .push("SELECT id FROM posts_geo WHERE min_lat >= ")
            .push_bind(south)
            .push(" AND max_lat <= ")
            .push_bind(north)
            .push(" AND min_lon >= ")
            .push_bind(west)
            .push(" AND max_lon <= ")
            .push_bind(east);
    }
    query.push(") g JOIN posts p ON p.rowid = g.id");
}
