//! Batch jobs: each finds and fixes an inconsistency seeded in the database or the bucket, one
//! process at a time runs each, and `/metrics` shows how each last run went.

use picshare_app::batch::BatchJob;
use picshare_store::BatchOutcome;
use reqwest::StatusCode;
use serde_json::Value;

use crate::feed::{follow, post};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::processes::Process;

async fn followers(app: &TestApp, user: &str) -> i64 {
    let profile: Value = app
        .get(&format!("/v1/users/{user}"), None)
        .await
        .json()
        .await
        .unwrap();
    profile["followers_count"].as_i64().unwrap()
}

async fn run(app: &TestApp, job: BatchJob) -> BatchOutcome {
    app.app
        .run_batch(job, "test")
        .await
        .expect("batch job")
        .expect("nobody else runs it")
}

/// `column` moved `hours` into the past (timestamps are microseconds in SQLite).
fn hours_ago(app: &TestApp, column: &str, hours: i64) -> String {
    match app.is_sqlite() {
        true => format!("{column} - {}", hours * 3600 * 1_000_000),
        false => format!("{column} - interval '{hours} hours'"),
    }
}

#[tokio::test]
async fn repair_drops_entries_of_deleted_posts_dangling_avatars_and_media_stuck_in_processing() {
    let app = spawn_app().await;
    let (reader, reader_token) = app.quick_user("reader").await;
    let (author, author_token) = app.quick_user("author").await;
    follow(&app, &reader_token, &author).await;
    let gone = post(&app, &author_token, "public").await;
    let kept = post(&app, &author_token, "public").await;
    app.get("/v1/feed", Some(&reader_token)).await;
    app.run_jobs().await;
    let entries = |post: &str| {
        format!(
            "SELECT count(*) FROM home_timeline WHERE post_id = {}",
            app.sql_uuid(post)
        )
    };
    assert_eq!(app.query_i64(&entries(&gone)).await, 1, "in the timeline");
    // A post deleted behind the application's back, an avatar naming nothing, an upload stuck.
    app.execute_sql(&format!(
        "DELETE FROM posts WHERE id = {}",
        app.sql_uuid(&gone)
    ))
    .await;
    let nothing = uuid::Uuid::now_v7().to_string();
    app.execute_sql(&format!(
        "UPDATE users SET avatar_media_id = {} WHERE id = {}",
        app.sql_uuid(&nothing),
        app.sql_uuid(&reader)
    ))
    .await;
    let bytes = picshare_media::samples::png(&picshare_media::samples::split_colours(64, 48));
    let stuck = app.upload(&reader_token, bytes, "image/png", "post").await;
    app.execute_sql(&format!(
        "UPDATE media SET updated_at = {} WHERE id = {}",
        hours_ago(&app, "updated_at", 25),
        app.sql_uuid(&stuck)
    ))
    .await;

    let done = run(&app, BatchJob::Repair).await;
    assert_eq!((done.found, done.fixed), (3, 3), "{done:?}");
    assert_eq!(app.query_i64(&entries(&gone)).await, 0);
    assert_eq!(app.query_i64(&entries(&kept)).await, 1, "others untouched");
    let me: Value = app
        .get("/v1/auth/me", Some(&reader_token))
        .await
        .json()
        .await
        .unwrap();
    assert!(me["avatar"].is_null(), "{me}");
    assert_eq!(
        app.upload_status(&reader_token, &stuck).await["status"],
        "failed"
    );
    // Nothing is left to repair.
    assert_eq!(run(&app, BatchJob::Repair).await.fixed, 0);
}

#[tokio::test]
async fn cleanups_delete_stale_invites_and_cut_timelines_back_to_their_window() {
    let app = spawn_app().await;
    let (user, _) = app.quick_user("inviter").await;
    let id = app.sql_uuid(&user);
    let (old, recent) = (
        hours_ago(&app, "created_at", 24 * 40),
        hours_ago(&app, "created_at", 24),
    );
    for (code, expires) in [("OLDCODE1", &old), ("NEWCODE1", &recent)] {
        app.execute_sql(&format!(
            "INSERT INTO invites (id, code, inviter_id, created_at, expires_at)
             SELECT {}, '{code}', id, created_at, {expires} FROM users WHERE id = {id}",
            app.sql_uuid(&uuid::Uuid::now_v7().to_string())
        ))
        .await;
    }
    let done = run(&app, BatchJob::CleanupInvites).await;
    assert_eq!(done.fixed, 1, "{done:?}");
    let left = app
        .query_i64("SELECT count(*) FROM invites WHERE code = 'NEWCODE1'")
        .await;
    assert_eq!(left, 1, "an invite expired yesterday is kept");

    // A timeline 10 entries past its window.
    let window = i64::from(picshare_store::TIMELINE_WINDOW);
    let fill = match app.is_sqlite() {
        true => format!(
            "INSERT INTO timeline_state (user_id, floor) VALUES ({id}, zeroblob(16));
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
             INSERT INTO home_timeline (user_id, post_id, author_id)
             SELECT {id}, randomblob(16), {id} FROM n;",
            window + 10
        ),
        false => format!(
            "INSERT INTO timeline_state (user_id, floor)
                 VALUES ({id}, '00000000-0000-0000-0000-000000000000');
             INSERT INTO home_timeline (user_id, post_id, author_id)
             SELECT {id}, gen_random_uuid(), {id} FROM generate_series(1, {});",
            window + 10
        ),
    };
    app.execute_sql(&fill).await;
    let done = run(&app, BatchJob::PruneTimelines).await;
    assert_eq!(done.fixed, 10, "{done:?}");
    let count = format!("SELECT count(*) FROM home_timeline WHERE user_id = {id}");
    assert_eq!(app.query_i64(&count).await, window);
    let floor_raised = format!(
        "SELECT count(*) FROM timeline_state WHERE user_id = {id} AND floor = \
         (SELECT post_id FROM home_timeline WHERE user_id = {id} ORDER BY post_id LIMIT 1)"
    );
    assert_eq!(app.query_i64(&floor_raised).await, 1);
}

#[tokio::test]
async fn orphans_removes_objects_no_media_names_and_reports_media_missing_theirs() {
    let app = spawn_app_with(|config| config.orphan_grace_secs = 0).await;
    let (_, token) = app.quick_user("owner").await;
    let kept = app.ready_media(&token).await;
    let lost = app.ready_media(&token).await;
    let orphan = uuid::Uuid::now_v7().to_string();
    let orphans = [
        picshare_objects::original_key(&orphan),
        picshare_objects::variant_key(&orphan, "thumb"),
    ];
    for key in &orphans {
        app.app
            .objects
            .put(key, b"left behind".to_vec())
            .await
            .unwrap();
    }
    app.app
        .objects
        .delete(&picshare_objects::original_key(&lost))
        .await
        .unwrap();
    // Past the grace of 0 s by the store's clock too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let done = run(&app, BatchJob::Orphans).await;
    assert_eq!((done.found, done.fixed), (3, 2), "{done:?}");
    for key in &orphans {
        assert!(!app.object_exists(key).await, "{key}");
    }
    assert!(
        app.object_exists(&picshare_objects::original_key(&kept))
            .await
    );
    assert!(
        app.object_exists(&picshare_objects::variant_key(&kept, "medium"))
            .await
    );
}

#[tokio::test]
async fn a_batch_job_runs_in_one_process_at_a_time_and_metrics_show_its_last_run() {
    let app = spawn_app().await;
    let (user, _) = app.quick_user("counted").await;
    let wrong = format!(
        "UPDATE users SET followers_count = 7 WHERE id = {}",
        app.sql_uuid(&user)
    );
    app.execute_sql(&wrong).await;
    // Another process holds the job: this one does nothing.
    let now = time::OffsetDateTime::now_utc();
    let held = app
        .store()
        .start_batch(
            "recount",
            "elsewhere",
            now,
            now + time::Duration::seconds(1),
        )
        .await
        .unwrap();
    assert!(held);
    assert!(
        app.app
            .run_batch(BatchJob::Recount, "here")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(followers(&app, &user).await, 7, "untouched");
    // Its lease lapses (the holder died); two processes try at once, and one fixes it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (first, second) = tokio::join!(
        Process::run(&app.config, &["batch", "recount"]),
        Process::run(&app.config, &["batch", "recount"]),
    );
    assert!(first.0 && second.0, "{first:?} {second:?}");
    let fixed: Vec<&str> = [&first.1, &second.1]
        .into_iter()
        .filter(|out| out.contains("fixed 1"))
        .map(String::as_str)
        .collect();
    assert_eq!(fixed.len(), 1, "{first:?} {second:?}");
    assert_eq!(followers(&app, &user).await, 0);

    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("picshare_batch_last_succeeded{job=\"recount\"} 1"),
        "{text}"
    );
    assert!(text.contains("picshare_batch_last_finished_seconds{job=\"recount\"}"));
}
