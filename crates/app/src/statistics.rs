//! The query planner's statistics, kept true to tables the feed fills in bulk
//! (`Store::refresh_planner_statistics`; docs/feed.md, "Planner statistics").

use std::sync::Arc;
use std::time::Duration;

use picshare_store::Store;
use tokio::sync::Notify;

/// Least time between two checks of one worker: a check reads every table's size, a few
/// milliseconds, and a bulk fill is caught within this of its last job.
const CHECK_SPACING: Duration = Duration::from_secs(1);

/// Checks the statistics after jobs finish (`jobs_finished`; jobs do the bulk writes), at most
/// once per `CHECK_SPACING`; jobs finished during a check or the spacing bring one more check.
/// Runs until aborted.
pub(crate) async fn keep_planner_statistics(store: Arc<dyn Store>, jobs_finished: Arc<Notify>) {
    loop {
        jobs_finished.notified().await;
        match store.refresh_planner_statistics().await {
            Ok(tables) if !tables.is_empty() => {
                tracing::info!(?tables, "refreshed planner statistics");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "checking planner statistics failed"),
        }
        tokio::time::sleep(CHECK_SPACING).await;
    }
}

/// Says at start when nothing but the workers keeps the statistics (autovacuum off).
pub async fn report_unattended_statistics(store: &dyn Store, refreshed_by_workers: bool) {
    match store.planner_statistics_unattended().await {
        Ok(true) if refreshed_by_workers => tracing::warn!(
            "autovacuum is off: only the workers refresh planner statistics, of tables that \
             doubled or changed past their last analysis"
        ),
        Ok(true) => tracing::warn!(
            "autovacuum is off and PICSHARE_STATISTICS_REFRESH=false: nothing refreshes planner \
             statistics; run ANALYZE after bulk changes (docs/feed.md, \"Planner statistics\")"
        ),
        Ok(false) => {}
        Err(err) => tracing::warn!(error = %err, "reading the autovacuum setting failed"),
    }
}
