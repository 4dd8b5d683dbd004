//! Keeping the query planner's statistics true to the tables. The feed fills `home_timeline` in
//! bulk; on statistics taken while it was empty, PostgreSQL planned its pages as a sequential
//! scan of 1.4 M rows (docs/feed.md, "Planner statistics"). Autovacuum refreshes them when on;
//! this is the application's own refresh, for when it is off or behind.

use picshare_store::StoreResult;
use sqlx::{Connection, PgConnection, PgPool};

use crate::db_err;

/// The advisory lock one process at a time refreshes statistics under ("picsstat").
const REFRESH_LOCK: i64 = 0x7069_6373_7374_6174;

/// Tables of the schema whose statistics no longer describe them: grown past twice the pages
/// last counted (the size is read now, so a bulk fill shows at once), or changed by more rows
/// than last counted (the cumulative statistics, which may lag by seconds). Doubling, not
/// autovacuum's 10%: this backs autovacuum up, so a table growing from empty is analysed a
/// few times over its growth.
const STALE_TABLES: &str = "SELECT c.relname::text
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname <> '_sqlx_migrations'
       AND (pg_relation_size(c.oid) / current_setting('block_size')::bigint
                > 2 * greatest(c.relpages, 0) + 8
            OR coalesce(s.n_mod_since_analyze, 0) > greatest(c.reltuples, 0) + 1000)
     ORDER BY c.relname";

/// Vacuums and analyses the stale tables, under the lock (another process at it: nothing to do
/// here). `VACUUM` as well as `ANALYZE`: it also marks the filled pages all-visible and clears
/// the rows trims deleted, which is what a table behind on its statistics is also missing. A
/// table whose lock is not granted within a second (autovacuum is working on it) is left for
/// the next refresh.
pub(crate) async fn refresh_planner_statistics(pool: &PgPool) -> StoreResult<Vec<String>> {
    let stale: Vec<String> = sqlx::query_scalar(STALE_TABLES)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    if stale.is_empty() {
        return Ok(stale);
    }
    // `VACUUM` runs outside any transaction, so the lock is the session's: on a connection taken
    // out of the pool and closed after, so that no pooled connection keeps it, even if this
    // task is dropped half-way.
    let mut connection = pool.acquire().await.map_err(db_err)?.detach();
    let refreshed = refresh_under_lock(&mut connection).await;
    let _ = connection.close().await;
    refreshed
}

async fn refresh_under_lock(connection: &mut PgConnection) -> StoreResult<Vec<String>> {
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(REFRESH_LOCK)
        .fetch_one(&mut *connection)
        .await
        .map_err(db_err)?;
    if !locked {
        return Ok(Vec::new());
    }
    sqlx::query("SET lock_timeout = '1s'")
        .execute(&mut *connection)
        .await
        .map_err(db_err)?;
    // Again under the lock: another process may have refreshed them meanwhile.
    let stale: Vec<String> = sqlx::query_scalar(STALE_TABLES)
        .fetch_all(&mut *connection)
        .await
        .map_err(db_err)?;
    let mut refreshed = Vec::with_capacity(stale.len());
    for table in stale {
        let vacuum = format!("VACUUM (ANALYZE) \"{}\"", table.replace('"', "\"\""));
        match sqlx::query(&vacuum)
            .persistent(false)
            .execute(&mut *connection)
            .await
        {
            Ok(_) => refreshed.push(table),
            Err(err) => tracing::warn!(table, error = %err, "refreshing planner statistics failed"),
        }
    }
    Ok(refreshed)
}

/// Autovacuum off (or the counts it works from): only `refresh_planner_statistics` is left.
pub(crate) async fn planner_statistics_unattended(pool: &PgPool) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT NOT (current_setting('autovacuum')::bool AND current_setting('track_counts')::bool)",
    )
    .fetch_one(pool)
    .await
    .map_err(db_err)
}
