//! Notifications: made from jobs by the worker, one per cause, removed when the cause is undone,
//! never for your own doing, across blocks, or about what the recipient may not see.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};
use crate::processes::Process;

async fn notifications(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app
        .get(&format!("/v1/notifications{query}"), Some(token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

fn kinds(items: &[Value]) -> Vec<&str> {
    items.iter().map(|n| n["type"].as_str().unwrap()).collect()
}

async fn unread_count(app: &TestApp, token: &str) -> i64 {
    let body: Value = app
        .get("/v1/notifications/unread-count", Some(token))
        .await
        .json()
        .await
        .unwrap();
    body["count"].as_i64().unwrap()
}

async fn comment(app: &TestApp, token: &str, post: &str, text: &str) -> Value {
    let response = app
        .post_json(
            &format!("/v1/posts/{post}/comments"),
            Some(token),
            &json!({ "text": text }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn follows_likes_comments_and_mentions_notify_the_people_they_concern() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let (_carol, carol_token) = app.quick_user("carol").await;
    let post = app.post_with_image(&alice_token, "public").await;
    let post_id = post["id"].as_str().unwrap();
    app.post_empty(&format!("/v1/users/{alice}/follow"), Some(&bob_token))
        .await;
    app.post_empty(&format!("/v1/posts/{post_id}/like"), Some(&bob_token))
        .await;
    let comment = comment(&app, &bob_token, post_id, "lovely, @carol look").await;
    assert!(
        notifications(&app, &alice_token, "").await.is_empty(),
        "the worker makes them"
    );
    app.run_jobs().await;

    let mut alices = notifications(&app, &alice_token, "").await;
    let ids: Vec<&str> = alices.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    // The worker makes them side by side: by kind from here on.
    alices.sort_by_key(|n| n["type"].as_str().unwrap().to_owned());
    assert_eq!(kinds(&alices), ["comment", "follow", "like"]);
    for n in &alices {
        assert_eq!(n["actor"]["id"], bob.as_str());
        assert_eq!(n["actor"]["handle"], "bob");
        assert!(
            n["actor"].get("email").is_none(),
            "the actor is a public user"
        );
        assert!(n["read_at"].is_null());
    }
    assert_eq!(alices[0]["comment_id"], comment["id"]);
    assert_eq!(alices[2]["post_id"], post_id);
    assert!(alices[2]["post_thumb"]["url"].is_string(), "a post's thumb");
    assert!(alices[1]["post_id"].is_null());
    let carols = notifications(&app, &carol_token, "").await;
    assert_eq!(kinds(&carols), ["mention"]);
    assert_eq!(carols[0]["post_id"], post_id);
    assert_eq!(carols[0]["comment_id"], comment["id"]);
    assert!(
        notifications(&app, &bob_token, "").await.is_empty(),
        "nothing for your own doing"
    );
}

#[tokio::test]
async fn a_like_undone_and_redone_notifies_once_and_an_unlike_hides_it() {
    let app = spawn_app().await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let post = app.post_with_image(&alice_token, "public").await;
    let like = format!("/v1/posts/{}/like", post["id"].as_str().unwrap());
    app.post_empty(&like, Some(&bob_token)).await;
    app.run_jobs().await;
    let first = notifications(&app, &alice_token, "").await;
    assert_eq!(kinds(&first), ["like"]);
    for _ in 0..3 {
        app.delete(&like, Some(&bob_token)).await;
        assert!(
            notifications(&app, &alice_token, "").await.is_empty(),
            "an unlike hides it at once"
        );
        assert_eq!(unread_count(&app, &alice_token).await, 0);
        app.post_empty(&like, Some(&bob_token)).await;
        app.run_jobs().await;
        let again = notifications(&app, &alice_token, "").await;
        assert_eq!(again.len(), 1, "one like, one notification");
        assert_eq!(again[0]["id"], first[0]["id"], "the same one, shown again");
    }
    // An unlike before the worker runs leaves nothing to show.
    let other = app.post_with_image(&alice_token, "public").await;
    let like_other = format!("/v1/posts/{}/like", other["id"].as_str().unwrap());
    app.post_empty(&like_other, Some(&bob_token)).await;
    app.delete(&like_other, Some(&bob_token)).await;
    app.run_jobs().await;
    assert_eq!(notifications(&app, &alice_token, "").await.len(), 1);
}

#[tokio::test]
async fn undoing_a_follow_comment_or_post_removes_its_notification() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let (_carol, carol_token) = app.quick_user("carol").await;
    app.post_empty(&format!("/v1/users/{alice}/follow"), Some(&bob_token))
        .await;
    let post = app.post_with_image(&alice_token, "public").await;
    let post_id = post["id"].as_str().unwrap();
    let comment = comment(&app, &bob_token, post_id, "nice @carol").await;
    app.run_jobs().await;
    let made = notifications(&app, &alice_token, "").await;
    let mut made = kinds(&made);
    made.sort();
    assert_eq!(made, ["comment", "follow"]);
    assert_eq!(
        kinds(&notifications(&app, &carol_token, "").await),
        ["mention"]
    );

    let deleted = app
        .delete(
            &format!(
                "/v1/posts/{post_id}/comments/{}",
                comment["id"].as_str().unwrap()
            ),
            Some(&bob_token),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        kinds(&notifications(&app, &alice_token, "").await),
        ["follow"]
    );
    assert!(
        notifications(&app, &carol_token, "").await.is_empty(),
        "its mention too"
    );

    app.post_empty(&format!("/v1/users/{alice}/unfollow"), Some(&bob_token))
        .await;
    assert!(notifications(&app, &alice_token, "").await.is_empty());

    app.post_empty(&format!("/v1/posts/{post_id}/like"), Some(&bob_token))
        .await;
    app.run_jobs().await;
    assert_eq!(
        kinds(&notifications(&app, &alice_token, "").await),
        ["like"]
    );
    app.delete(&format!("/v1/posts/{post_id}"), Some(&alice_token))
        .await;
    assert!(
        notifications(&app, &alice_token, "").await.is_empty(),
        "a deleted post takes its notifications"
    );
}

#[tokio::test]
async fn a_follow_request_notifies_and_its_answer_replaces_it() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let (carol, carol_token) = app.quick_user("carol").await;
    app.patch_json(
        &format!("/v1/users/{alice}"),
        Some(&alice_token),
        &json!({"is_private": true}),
    )
    .await;
    for token in [&bob_token, &carol_token] {
        app.post_empty(&format!("/v1/users/{alice}/follow"), Some(token))
            .await;
    }
    app.run_jobs().await;
    assert_eq!(
        kinds(&notifications(&app, &alice_token, "").await),
        ["follow_request", "follow_request"]
    );
    app.post_empty(
        &format!("/v1/follow-requests/{bob}/approve"),
        Some(&alice_token),
    )
    .await;
    app.post_empty(
        &format!("/v1/follow-requests/{carol}/reject"),
        Some(&alice_token),
    )
    .await;
    app.run_jobs().await;
    let items = notifications(&app, &alice_token, "").await;
    assert_eq!(
        kinds(&items),
        ["follow"],
        "the approved request became a follow"
    );
    assert_eq!(items[0]["actor"]["id"], bob.as_str());
}

#[tokio::test]
async fn blocks_and_visibility_keep_notifications_from_where_they_must_not_go() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let (_dave, dave_token) = app.quick_user("dave").await;
    let (_erin, erin_token) = app.quick_user("erin").await;
    // Dave does not follow Alice: a followers-only post mentioning him tells him nothing.
    let media = app.ready_media(&alice_token).await;
    app.post_json(
        "/v1/posts",
        Some(&alice_token),
        &json!({"media_ids": [media], "visibility": "followers", "caption": "hi @dave @erin"}),
    )
    .await;
    // Erin blocked Alice: no mention reaches her either.
    app.post_empty(&format!("/v1/users/{alice}/block"), Some(&erin_token))
        .await;
    // Bob likes, then Alice blocks him: his notification goes at once, and stays gone.
    let post = app.post_with_image(&alice_token, "public").await;
    let like = format!("/v1/posts/{}/like", post["id"].as_str().unwrap());
    app.post_empty(&like, Some(&bob_token)).await;
    app.run_jobs().await;
    assert_eq!(
        kinds(&notifications(&app, &alice_token, "").await),
        ["like"]
    );
    app.post_empty(&format!("/v1/users/{bob}/block"), Some(&alice_token))
        .await;
    assert!(notifications(&app, &alice_token, "").await.is_empty());
    app.post_empty(&format!("/v1/users/{bob}/unblock"), Some(&alice_token))
        .await;
    assert!(notifications(&app, &alice_token, "").await.is_empty());
    assert!(notifications(&app, &dave_token, "").await.is_empty());
    assert!(notifications(&app, &erin_token, "").await.is_empty());
    // A public post's mention does reach Dave.
    let media = app.ready_media(&alice_token).await;
    app.post_json(
        "/v1/posts",
        Some(&alice_token),
        &json!({"media_ids": [media], "visibility": "public", "caption": "hi @dave"}),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        kinds(&notifications(&app, &dave_token, "").await),
        ["mention"]
    );
}

#[tokio::test]
async fn notifications_are_read_one_by_one_or_all_and_only_by_their_recipient() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let mut followers = Vec::new();
    for i in 0..5 {
        let (_, token) = app.quick_user(&format!("fan{i}")).await;
        app.post_empty(&format!("/v1/users/{alice}/follow"), Some(&token))
            .await;
        followers.push(token);
    }
    app.run_jobs().await;
    assert_eq!(unread_count(&app, &alice_token).await, 5);
    // Pages of two, newest first, with no repeat.
    let first: Value = app
        .get("/v1/notifications?limit=2", Some(&alice_token))
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(
            &format!("/v1/notifications?limit=2&cursor={cursor}"),
            Some(&alice_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    let one = ids[0];

    let read = format!("/v1/notifications/{one}/read");
    let response = app.post_empty(&read, Some(&followers[0])).await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        unread_count(&app, &alice_token).await,
        5,
        "another's read changed nothing"
    );
    assert_eq!(
        app.post_empty(&read, Some(&alice_token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(unread_count(&app, &alice_token).await, 4);
    let unread = notifications(&app, &alice_token, "?unread=true").await;
    assert_eq!(unread.len(), 4);
    assert!(unread.iter().all(|n| n["id"] != one));
    let all = notifications(&app, &alice_token, "").await;
    assert!(
        all.iter()
            .any(|n| n["id"] == one && n["read_at"].is_string())
    );

    assert_eq!(
        app.post_empty("/v1/notifications/read-all", Some(&alice_token))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(unread_count(&app, &alice_token).await, 0);
    assert!(
        notifications(&app, &alice_token, "?unread=true")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_notification_waits_for_no_backlog_of_other_jobs() {
    let app = spawn_app().await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let post = app.post_with_image(&alice_token, "public").await;
    // A backlog of fan-outs queued before the like.
    for _ in 0..200 {
        app.store()
            .enqueue(&picshare_store::NewJob {
                id: uuid::Uuid::now_v7(),
                kind: "fan_out_post".into(),
                payload: json!({"post_id": uuid::Uuid::now_v7()}).to_string(),
                run_at: time::OffsetDateTime::now_utc(),
                max_attempts: 3,
                priority: 2,
            })
            .await
            .unwrap();
    }
    app.post_empty(
        &format!("/v1/posts/{}/like", post["id"].as_str().unwrap()),
        Some(&bob_token),
    )
    .await;
    // One round of the worker: the like's notification goes first.
    app.worker.run_once().await.unwrap();
    assert_eq!(
        kinds(&notifications(&app, &alice_token, "").await),
        ["like"]
    );
    let queued: i64 = app
        .store()
        .job_counts()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.kind == "fan_out_post")
        .map(|c| c.count)
        .sum();
    assert!(queued > 150, "the backlog is still there ({queued})");
}

#[tokio::test]
async fn a_worker_process_killed_mid_notification_leaves_it_to_another_exactly_once() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let mut socket = crate::realtime::connect(&app, &alice_token, "").await;
    app.stall_inserts("notifications").await;
    app.post_empty(&format!("/v1/users/{alice}/follow"), Some(&bob_token))
        .await;
    let mut worker = Process::start(
        &app.config,
        "worker",
        &[
            ("PICSHARE_JOB_LEASE_SECS", "1"),
            ("PICSHARE_LOG_LEVEL", "error"),
        ],
    );
    let running = "SELECT count(*) FROM jobs WHERE state = 'running'";
    for _ in 0..200 {
        if app.query_i64(running).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.query_i64(running).await, 1, "the worker took the job");
    // Inside its notification insert, transaction open, the worker is killed.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    worker.kill();
    app.unstall_inserts("notifications").await;
    assert!(notifications(&app, &alice_token, "").await.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    app.run_jobs().await;
    assert_eq!(
        kinds(&notifications(&app, &alice_token, "").await),
        ["follow"]
    );
    let event = crate::realtime::next_event(&mut socket).await;
    assert_eq!(event["type"], "notification.created");

    // The same cause delivered twice (at-least-once) still makes one notification.
    let job = picshare_app::jobs::NotifyJob::Follow {
        follower: bob.parse().unwrap(),
        followee: alice.parse().unwrap(),
    };
    app.store()
        .enqueue(&picshare_store::NewJob {
            id: uuid::Uuid::now_v7(),
            kind: picshare_app::jobs::NOTIFY.into(),
            payload: serde_json::to_string(&job).unwrap(),
            run_at: time::OffsetDateTime::now_utc(),
            max_attempts: 3,
            priority: 0,
        })
        .await
        .unwrap();
    app.run_jobs().await;
    assert_eq!(
        kinds(&notifications(&app, &alice_token, "").await),
        ["follow"]
    );
    crate::realtime::assert_quiet(&mut socket).await;
    assert!(app.store().job_counts().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_worker_in_another_process_starts_a_job_at_once_not_at_its_next_poll() {
    let app = crate::helpers::spawn_app_with(|config| {
        config.redis_url = Some(crate::realtime::shared_redis())
    })
    .await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let _worker = Process::start(
        &app.config,
        "worker",
        &[
            ("PICSHARE_JOB_POLL_INTERVAL_MS", "600000"),
            ("PICSHARE_LOG_LEVEL", "error"),
        ],
    );
    // Once the worker listens for wake-ups (this instance listens too), its first poll is done.
    let redis = redis::Client::open(crate::realtime::shared_redis()).unwrap();
    let mut redis = redis.get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{}:jobs", app.config.redis_prefix);
    for _ in 0..200 {
        let (_, listeners): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut redis)
            .await
            .unwrap();
        if listeners >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.post_empty(&format!("/v1/users/{alice}/follow"), Some(&bob_token))
        .await;
    let started = std::time::Instant::now();
    while notifications(&app, &alice_token, "").await.is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the worker waited for its ten-minute poll"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
