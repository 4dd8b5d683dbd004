//! The query planner's statistics follow the tables the feed fills in bulk (docs/feed.md,
//! "Planner statistics"): on statistics of an empty timeline PostgreSQL read whole tables.

use std::time::{Duration, Instant};

use crate::feed::post;
use crate::helpers::spawn_app;

#[tokio::test]
async fn workers_refresh_the_statistics_of_a_timeline_filled_since_its_last_analysis() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user("filler").await;
    if app.is_sqlite() {
        // SQLite plans by fixed rules: nothing here analyses, so no statistics can go stale.
        post(&app, &token, "public").await;
        app.run_jobs().await;
        let statistics = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'";
        assert_eq!(app.query_i64(statistics).await, 0);
        assert!(
            app.store()
                .refresh_planner_statistics()
                .await
                .unwrap()
                .is_empty()
        );
        return;
    }
    // Statistics taken while the timelines were empty, then a bulk fill, as on a fresh install.
    app.execute_sql(
        "ANALYZE home_timeline;
         INSERT INTO home_timeline (user_id, post_id, author_id)
             SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid()
             FROM generate_series(1, 20000);",
    )
    .await;
    let counted = "SELECT reltuples::bigint FROM pg_class WHERE relname = 'home_timeline'";
    assert_eq!(app.query_i64(counted).await, 0);

    // Any finished job has the worker look: the post's fan-out, run by the worker's loop.
    post(&app, &token, "public").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(app.worker.clone().run(async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.query_i64(counted).await < 19_000 {
        assert!(
            Instant::now() < deadline,
            "home_timeline still counted at {} rows",
            app.query_i64(counted).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    worker.await.unwrap();
    // Vacuumed too: the filled pages are marked all-visible.
    let visible = "SELECT relallvisible::bigint FROM pg_class WHERE relname = 'home_timeline'";
    assert!(app.query_i64(visible).await > 0);
    // Fresh now: the next look analyses nothing.
    let again = app.store().refresh_planner_statistics().await.unwrap();
    assert!(!again.contains(&"home_timeline".to_owned()), "{again:?}");
}
