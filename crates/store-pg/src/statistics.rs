//! Keeping the query planner's statistics true to the tables. The feed fills `home_timeline` in
//! bulk; on statistics taken while it was empty, PostgreSQL planned its pages as a sequential
//! scan of 1.4 M rows (docs/feed.md, "Planner statistics"). Autovacuum refreshes them when on;
//! this is the application's own refresh, for when it is off or behind.

use picshare_store::StoreResult;
use sqlx::{Acquire, PgPool};

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

/// Analyses the stale tables, under the lock (another process refreshing: nothing to do here).
/// A table whose lock is not granted within a second (autovacuum is working on it) is left for
/// the next refresh.
pub(crate) async fn refresh_planner_statistics(pool: &PgPool) -> StoreResult<Vec<String>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(REFRESH_LOCK)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if !locked {
        return Ok(Vec::new());
    }
    sqlx::query("SET LOCAL lock_timeout = '1s'")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let stale: Vec<String> = sqlx::query_scalar(STALE_TABLES)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut refreshed = Vec::with_capacity(stale.len());
    for table in stale {
        // A savepoint per table: one that times out does not undo the others.
        let mut one = tx.begin().await.map_err(db_err)?;
        let analyse = format!("ANALYZE \"{}\"", table.replace('"', "\"\""));
        match sqlx::query(&analyse).execute(&mut *one).await {
            Ok(_) => {
                one.commit().await.map_err(db_err)?;
                refreshed.push(table);
            }
            Err(err) => {
                tracing::warn!(table, error = %err, "refreshing planner statistics failed");
                one.rollback().await.map_err(db_err)?;
            }
        }
    }
    tx.commit().await.map_err(db_err)?;
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
