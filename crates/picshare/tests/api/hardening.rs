//! Attacks that once worked, replayed: each test fails without its fix.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, error_fields, spawn_app, spawn_app_with, spawn_sibling,
};

fn thumb_url(post: &Value) -> String {
    post["media"][0]["variants"]["thumb"]["url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The link with one character of its signature changed.
fn forge_signature(url: &str) -> String {
    let marker = ["X-Amz-Signature=", "sig="]
        .into_iter()
        .find_map(|name| url.find(name).map(|at| at + name.len()))
        .expect("a signature parameter");
    let mut forged = url.to_owned();
    let original = &url[marker..marker + 1];
    let replacement = if original == "0" { "1" } else { "0" };
    forged.replace_range(marker..marker + 1, replacement);
    forged
}

async fn anonymous_status(app: &TestApp, url: &str) -> StatusCode {
    app.client.get(url).send().await.unwrap().status()
}

#[tokio::test]
async fn followers_only_images_need_a_valid_signed_link_that_stops_with_the_post() {
    let app = spawn_app().await;
    let (_, jane) = app.quick_user("jane").await;
    let (_, bob) = app.quick_user("bob").await;
    let follow = app.post_empty("/v1/users/@jane/follow", Some(&bob)).await;
    assert_eq!(follow.status(), StatusCode::OK);
    let post = app.post_with_image(&jane, "followers").await;
    let id = post["id"].as_str().unwrap();
    let seen: Value = app
        .get(&format!("/v1/posts/{id}"), Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    let signed = thumb_url(&seen);
    assert!(signed.contains('?'), "a signed link: {signed}");
    assert!(!app.variant_bytes(&signed).await.is_empty());
    // The same object without a signature, or with a forged one, is refused.
    let bare = signed.split('?').next().unwrap().to_owned();
    assert!(matches!(
        anonymous_status(&app, &bare).await,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
    let forged = forge_signature(&signed);
    assert!(matches!(
        anonymous_status(&app, &forged).await,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
    // Deleting the post ends the link at once (for the local route; the bucket's copy goes
    // with the cleanup job).
    let deleted = app.delete(&format!("/v1/posts/{id}"), Some(&jane)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    app.run_jobs().await;
    assert!(matches!(
        anonymous_status(&app, &signed).await,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
}

#[tokio::test]
async fn a_public_image_stops_being_served_once_its_post_is_hidden() {
    let app = spawn_app().await;
    let (_, jane) = app.quick_user("jane").await;
    let post = app.post_with_image(&jane, "public").await;
    let url = thumb_url(&post);
    if !app.app.objects.is_local() {
        // Without a CDN base every S3 link is presigned and short-lived.
        assert!(url.contains("X-Amz-Signature"), "{url}");
        return;
    }
    assert!(
        !url.contains('?'),
        "public images keep a stable link: {url}"
    );
    let served = app.client.get(&url).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["cache-control"], "public, no-cache");
    let etag = served.headers()["etag"].clone();
    let revalidated = app
        .client
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    let id = post["id"].as_str().unwrap();
    let hidden = app
        .patch_json(
            &format!("/v1/posts/{id}"),
            Some(&jane),
            &json!({"visibility": "followers"}),
        )
        .await;
    assert_eq!(hidden.status(), StatusCode::OK);
    assert_eq!(anonymous_status(&app, &url).await, StatusCode::NOT_FOUND);
    let shown = app
        .patch_json(
            &format!("/v1/posts/{id}"),
            Some(&jane),
            &json!({"visibility": "public"}),
        )
        .await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(anonymous_status(&app, &url).await, StatusCode::OK);
    let private = app
        .patch_json("/v1/users/@jane", Some(&jane), &json!({"is_private": true}))
        .await;
    assert!(private.status().is_success());
    assert_eq!(
        anonymous_status(&app, &url).await,
        StatusCode::NOT_FOUND,
        "account went private"
    );
}

#[tokio::test]
async fn a_scan_bomb_fails_quickly_with_a_reason() {
    let app = spawn_app().await;
    let (_, jane) = app.quick_user("jane").await;
    let bomb = picshare_media::samples::scan_bomb_jpeg(600, 600, 400);
    let id = app.upload(&jane, bomb, "image/jpeg", "post").await;
    app.run_jobs().await;
    let status = app.upload_status(&jane, &id).await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["error"].as_str().unwrap().contains("scans"),
        "{status}"
    );
}

#[tokio::test]
async fn the_bytes_checked_at_completion_are_the_bytes_processed() {
    let app = spawn_app().await;
    let (_, jane) = app.quick_user("jane").await;
    let first = picshare_media::samples::png(&picshare_media::samples::split_colours(64, 48));
    let ticket: Value = app
        .start_upload(&jane, "image/png", first.len(), "post")
        .await
        .json()
        .await
        .unwrap();
    assert!(app.put_upload(&ticket, first).await.status().is_success());
    let id = ticket["upload_id"].as_str().unwrap();
    assert_eq!(
        app.complete_upload(&jane, id).await.status(),
        StatusCode::ACCEPTED
    );
    // The upload URL is still within its lifetime: a second PUT must change nothing.
    let other = picshare_media::samples::png(&picshare_media::samples::split_colours(96, 96));
    let replaced = app.put_upload(&ticket, other).await;
    if app.app.objects.is_local() {
        assert_eq!(replaced.status(), StatusCode::CONFLICT);
    }
    app.run_jobs().await;
    let media: Value = app
        .get(&format!("/v1/media/{id}"), Some(&jane))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (media["width"].as_u64(), media["height"].as_u64()),
        (Some(64), Some(48))
    );
}

#[tokio::test]
async fn open_uploads_and_unused_images_are_bounded_per_account() {
    let app = spawn_app_with(|config| {
        config.max_pending_uploads = 2;
        config.max_unused_media = 3;
    })
    .await;
    let (_, jane) = app.quick_user("jane").await;
    for _ in 0..2 {
        assert_eq!(
            app.start_upload(&jane, "image/png", 100, "post")
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let refused = app.start_upload(&jane, "image/png", 100, "post").await;
    assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    let (_, bob) = app.quick_user("bob").await;
    for _ in 0..3 {
        app.ready_media(&bob).await;
    }
    let refused = app.start_upload(&bob, "image/png", 100, "post").await;
    assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn feed_refreshes_are_bounded_per_account() {
    let app = spawn_app_with(|config| config.feed_refreshes_per_hour = 2).await;
    let (_, jane) = app.quick_user("jane").await;
    for _ in 0..2 {
        let response = app.post_empty("/v1/feed/refresh", Some(&jane)).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let refused = app.post_empty("/v1/feed/refresh", Some(&jane)).await;
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn random_methods_add_no_metric_series() {
    let app = spawn_app().await;
    for n in 0..50 {
        let method = reqwest::Method::from_bytes(format!("PROBE{n}").as_bytes()).unwrap();
        let _ = app
            .client
            .request(method, app.url("/v1/feed"))
            .send()
            .await
            .unwrap();
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!metrics.contains("PROBE"), "client methods became labels");
    assert!(metrics.contains("method=\"other\""));
}

#[tokio::test]
async fn control_characters_are_refused_and_invisible_ones_removed() {
    let app = spawn_app().await;
    let (_, jane) = app.quick_user("jane").await;
    let media = app.ready_media(&jane).await;
    let nul = app
        .post_json(
            "/v1/posts",
            Some(&jane),
            &json!({"media_ids": [media], "visibility": "public", "caption": "a\u{0}b"}),
        )
        .await;
    let problem = assert_problem(nul, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["caption"]);
    let renamed = app
        .patch_json(
            "/v1/users/@jane",
            Some(&jane),
            &json!({"display_name": "Jane\u{202E}gpj.exe\u{200B}"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let profile: Value = app.get("/v1/users/@jane", None).await.json().await.unwrap();
    assert_eq!(profile["display_name"], "Janegpj.exe");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let (_, jane) = app.quick_user("jane").await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let me = app
            .client
            .get(app.url("/v1/auth/me"))
            .header("authorization", format!("{scheme} {jane}"))
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn cursors_reveal_no_row_ids() {
    let app = spawn_app().await;
    let (jane_id, _) = app.quick_user("jane").await;
    for n in 0..3 {
        let (_, token) = app.quick_user(&format!("fan{n}")).await;
        app.post_empty("/v1/users/@jane/follow", Some(&token)).await;
    }
    let page: Value = app
        .get("/v1/users/@jane/followers?limit=1", None)
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .unwrap();
    let ids: Vec<uuid::Uuid> = vec![jane_id.parse().unwrap()];
    let follower: uuid::Uuid = page["items"][0]["id"].as_str().unwrap().parse().unwrap();
    // A UUIDv7 starts with its creation time: no id made in this test shares those bytes.
    assert!(
        !ids.iter()
            .chain([&follower])
            .any(|id| id.as_bytes()[..5] == bytes[..5])
    );
    let next = app
        .get(
            &format!("/v1/users/@jane/followers?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(next.status(), StatusCode::OK);
}

/// Polls an upload until its status is `wanted` (or a minute has passed); the last status seen.
async fn wait_for_status(app: &TestApp, token: &str, id: &str, wanted: &str) -> String {
    for _ in 0..600 {
        let status = app.upload_status(token, id).await["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status == wanted {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("upload {id} never reached {wanted}");
}

#[tokio::test]
async fn a_slow_image_holds_back_nobody_else_and_keeps_its_lease() {
    let app = spawn_app_with(|config| {
        config.worker_concurrency = 2;
        config.job_lease_secs = 1;
    })
    .await;
    let (_, jane) = app.quick_user("jane").await;
    let (_, bob) = app.quick_user("bob").await;
    // Within every limit, but seconds of decoding in a debug build.
    let slow = picshare_media::samples::png_16bit(4000, 4000);
    let slow_id = app.upload(&jane, slow, "image/png", "post").await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let run = |worker: picshare_app::worker::Worker| {
        let mut stopped = stopped.clone();
        tokio::spawn(worker.run(async move {
            let _ = stopped.changed().await;
        }));
    };
    // One worker: the small image can only be ready early if jobs finish independently.
    run(app.worker.clone());
    wait_for_status(&app, &jane, &slow_id, "processing").await;
    let small = picshare_media::samples::png(&picshare_media::samples::split_colours(64, 48));
    let fast_id = app.upload(&bob, small, "image/png", "post").await;
    wait_for_status(&app, &bob, &fast_id, "ready").await;
    let slow_then = app.upload_status(&jane, &slow_id).await["status"].clone();
    assert_eq!(
        slow_then, "processing",
        "the small image did not wait for the slow one"
    );
    // A second worker would take the slow job over if its one-second lease ran out.
    let sibling = spawn_sibling(&app).await;
    run(sibling.worker.clone());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let still_running = app.upload_status(&jane, &slow_id).await["status"] == "processing";
    let attempts = app
        .query_i64("SELECT CAST(coalesce(max(attempts), 0) AS BIGINT) FROM jobs WHERE kind = 'process_media'")
        .await;
    wait_for_status(&app, &jane, &slow_id, "ready").await;
    let _ = stop.send(true);
    assert!(
        still_running,
        "the slow image finished too soon to test its lease"
    );
    assert_eq!(attempts, 1, "no worker took over the slow job while it ran");
}
