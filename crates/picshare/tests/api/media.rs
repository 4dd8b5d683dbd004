use std::io::Cursor;

use picshare_media::samples;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

fn original_key(id: &str) -> String {
    format!("originals/{id}")
}

/// Where an upload's bytes wait until it is completed.
fn upload_key(id: &str) -> String {
    format!("uploads/{id}")
}

async fn media(app: &TestApp, token: Option<&str>, id: &str) -> reqwest::Response {
    app.get(&format!("/v1/media/{id}"), token).await
}

#[tokio::test]
async fn a_phone_jpeg_becomes_upright_metadata_free_variants() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let photo = samples::jpeg_with_exif(&samples::split_colours(1600, 800), 90, 6, true);
    let id = app.upload(&token, photo, "image/jpeg", "post").await;
    assert_eq!(app.upload_status(&token, &id).await["status"], "uploaded");

    app.run_jobs().await;
    let status = app.upload_status(&token, &id).await;
    assert_eq!(status["status"], "ready");
    assert_eq!(status["media_id"], id.as_str());
    assert_eq!(status["error"], Value::Null);

    let body: Value = media(&app, Some(&token), &id).await.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(800), Some(1600))
    );
    assert_eq!(body["blurhash"].as_str().unwrap().len(), 28);
    let thumb = &body["variants"]["thumb"];
    assert_eq!(
        (thumb["width"].as_u64(), thumb["height"].as_u64()),
        (Some(320), Some(320))
    );
    let medium = &body["variants"]["medium"];
    assert_eq!(
        (medium["width"].as_u64(), medium["height"].as_u64()),
        (Some(800), Some(1600))
    );
    assert_eq!(medium["content_type"], "image/jpeg");

    let bytes = app.variant_bytes(medium["url"].as_str().unwrap()).await;
    assert!(
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(&bytes))
            .is_err(),
        "no EXIF left"
    );
    let pixels = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(pixels.dimensions(), (800, 1600));
    let top = pixels.get_pixel(400, 100);
    assert!(
        top[0] > 150 && top[2] < 100,
        "rotated upright: top is red, got {top:?}"
    );

    // The original is kept, privately: it is not served.
    assert!(app.object_exists(&original_key(&id)).await);
    let original = app.get(&format!("/media/originals/{id}"), None).await;
    assert_eq!(original.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn png_declared_as_jpeg_and_webp_are_processed_by_their_real_type() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let picture = samples::split_colours(640, 480);
    let png = app
        .upload(&token, samples::png(&picture), "image/jpeg", "post")
        .await;
    let webp = app
        .upload(&token, samples::webp(&picture), "image/webp", "post")
        .await;
    app.run_jobs().await;
    for id in [png, webp] {
        let body: Value = media(&app, Some(&token), &id).await.json().await.unwrap();
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(body["variants"]["medium"]["width"], 640);
    }
}

#[tokio::test]
async fn unusable_files_fail_with_a_reason_and_leave_no_objects() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let jpeg = samples::jpeg_with_exif(&samples::photo_like(800, 600), 90, 1, false);
    let cases = [
        (
            b"this is a text file, not a photo".to_vec(),
            "image/png",
            "the file is not an image",
        ),
        (
            jpeg[..jpeg.len() / 2].to_vec(),
            "image/jpeg",
            "the image is damaged or incomplete",
        ),
        (
            samples::pixel_flood_png(30_000),
            "image/png",
            "the image is larger than 50 megapixels",
        ),
    ];
    let mut uploads = Vec::new();
    for (bytes, content_type, reason) in cases {
        uploads.push((
            app.upload(&token, bytes, content_type, "post").await,
            reason,
        ));
    }
    app.run_jobs().await;
    for (id, reason) in uploads {
        let status = app.upload_status(&token, &id).await;
        assert_eq!(status["status"], "failed");
        assert_eq!(status["error"], reason);
        assert!(
            !app.object_exists(&original_key(&id)).await,
            "original of a failed upload removed"
        );
        assert!(
            !app.object_exists(&format!("variants/{id}/medium.jpg"))
                .await
        );
    }
}

#[tokio::test]
async fn declared_type_and_size_are_checked_before_any_byte() {
    let app = spawn_app_with(|config| config.max_upload_bytes = 1000).await;
    let (_, token) = app.user_with_token("jane").await;
    let response = app.start_upload(&token, "image/gif", 100, "post").await;
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = app.start_upload(&token, "image/jpeg", 1001, "post").await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let response = app.start_upload(&token, "image/jpeg", 100, "banner").await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let response = app.start_upload(&token, "image/jpeg", 0, "post").await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let anonymous = app
        .post_json(
            "/v1/media/upload",
            None,
            &json!({"content_type": "image/jpeg", "size_bytes": 10, "purpose": "post"}),
        )
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_body_over_the_declared_size_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let ticket: Value = app
        .start_upload(&token, "image/jpeg", 1000, "post")
        .await
        .json()
        .await
        .unwrap();
    let id = ticket["upload_id"].as_str().unwrap();
    let response = app.put_upload(&ticket, vec![0xAB; 5000]).await;
    if !app.app.objects.is_local() {
        // A presigned PUT cannot bound the size: completion refuses anything over the
        // declared size and removes it.
        if response.status().is_success() {
            let completed: Value = app.complete_upload(&token, id).await.json().await.unwrap();
            assert_eq!(completed["status"], "failed");
            assert_eq!(
                completed["error"],
                "the file is larger than the declared size"
            );
            assert!(!app.object_exists(&original_key(id)).await);
        }
        return;
    }
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(!app.object_exists(&original_key(id)).await);
    assert_eq!(app.upload_status(&token, id).await["status"], "pending");
    let complete = app.complete_upload(&token, id).await;
    assert_problem(complete, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn the_upload_url_is_a_capability_for_one_upload() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let bytes = samples::png(&samples::split_colours(8, 8));
    let first: Value = app
        .start_upload(&token, "image/png", bytes.len(), "post")
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app
        .start_upload(&token, "image/png", bytes.len(), "post")
        .await
        .json()
        .await
        .unwrap();
    let (first_id, second_id) = (
        first["upload_id"].as_str().unwrap(),
        second["upload_id"].as_str().unwrap(),
    );
    // The first upload's URL, pointed at the second upload, opens nothing.
    let mut forged = first.clone();
    forged["upload_url"] = json!(
        first["upload_url"]
            .as_str()
            .unwrap()
            .replace(first_id, second_id)
    );
    let response = app.put_upload(&forged, bytes).await;
    assert!(
        matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "{}",
        response.status()
    );
    assert!(!app.object_exists(&original_key(second_id)).await);
    assert!(!app.object_exists(&upload_key(second_id)).await);
}

#[tokio::test]
async fn nobody_else_can_complete_see_or_delete_your_upload() {
    let app = spawn_app().await;
    let (_, owner) = app.user_with_token("jane").await;
    let (_, other) = app.user_with_token("mallory").await;
    let bytes = samples::png(&samples::split_colours(8, 8));
    let ticket: Value = app
        .start_upload(&owner, "image/png", bytes.len(), "post")
        .await
        .json()
        .await
        .unwrap();
    let id = ticket["upload_id"].as_str().unwrap().to_owned();
    assert!(app.put_upload(&ticket, bytes).await.status().is_success());

    assert_problem(
        app.complete_upload(&other, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let status = app
        .get(&format!("/v1/media/upload/{id}/status"), Some(&other))
        .await;
    assert_problem(status, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        media(&app, Some(&other), &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let delete = app
        .client
        .delete(app.url(&format!("/v1/media/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_problem(delete, StatusCode::NOT_FOUND, "not_found").await;
    // Nothing changed for the owner.
    assert_eq!(app.upload_status(&owner, &id).await["status"], "pending");
    assert!(app.object_exists(&upload_key(&id)).await);
}

#[tokio::test]
async fn deleting_media_removes_its_objects() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let id = app
        .upload(
            &token,
            samples::png(&samples::split_colours(400, 300)),
            "image/png",
            "post",
        )
        .await;
    app.run_jobs().await;
    assert!(app.object_exists(&format!("variants/{id}/thumb.jpg")).await);
    let response = app
        .client
        .delete(app.url(&format!("/v1/media/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        media(&app, Some(&token), &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.run_jobs().await;
    for key in [
        original_key(&id),
        format!("variants/{id}/thumb.jpg"),
        format!("variants/{id}/medium.jpg"),
    ] {
        assert!(!app.object_exists(&key).await, "{key} left behind");
    }
}

#[tokio::test]
async fn a_crashed_workers_job_is_taken_over_after_its_lease_and_finishes_once() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let id = app
        .upload(
            &token,
            samples::png(&samples::split_colours(300, 200)),
            "image/png",
            "post",
        )
        .await;
    // A worker claims the job and dies without finishing it.
    let claimed = app
        .store()
        .claim_jobs(
            "crashed-worker",
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_millis(1500),
            10,
            picshare_store::JobLane::Heavy,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    app.run_jobs().await;
    assert_eq!(
        app.upload_status(&token, &id).await["status"],
        "uploaded",
        "the lease still holds"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    app.run_jobs().await;
    assert_eq!(app.upload_status(&token, &id).await["status"], "ready");
    assert!(
        app.store().job_counts().await.unwrap().is_empty(),
        "the job is finished and gone"
    );
    app.run_jobs().await;
    assert_eq!(app.upload_status(&token, &id).await["status"], "ready");
}

#[tokio::test]
async fn failing_jobs_are_retried_then_dead_and_visible_in_metrics() {
    let app = spawn_app_with(|config| {
        config.job_max_attempts = 2;
        config.job_retry_base_ms = 300;
    })
    .await;
    app.store()
        .enqueue(&picshare_store::NewJob {
            id: uuid::Uuid::now_v7(),
            kind: "no_such_kind".into(),
            payload: "{}".into(),
            run_at: time::OffsetDateTime::now_utc(),
            max_attempts: 2,
            priority: 5,
        })
        .await
        .unwrap();
    app.run_jobs().await;
    let counts = app.store().job_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].state, "queued", "first failure: retried later");
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    app.run_jobs().await;
    let counts = app.store().job_counts().await.unwrap();
    assert_eq!((counts[0].state.as_str(), counts[0].count), ("dead", 1));
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("picshare_jobs{kind=\"no_such_kind\",state=\"dead\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("picshare_job_failures_total{kind=\"no_such_kind\"}"));
}

#[tokio::test]
async fn avatars_are_square_and_shown_on_the_public_profile() {
    let app = spawn_app().await;
    let (user, token) = app.user_with_token("jane").await;
    let photo = samples::jpeg_with_exif(&samples::photo_like(1200, 900), 90, 1, false);
    let avatar = app
        .upload(&token, photo.clone(), "image/jpeg", "avatar")
        .await;
    let post = app.upload(&token, photo, "image/jpeg", "post").await;
    app.run_jobs().await;

    let response = app
        .patch_json(
            "/v1/users/@jane",
            Some(&token),
            &json!({"avatar_media_id": post}),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let response = app
        .patch_json(
            "/v1/users/@jane",
            Some(&token),
            &json!({"avatar_media_id": avatar}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let public: Value = app
        .get(&format!("/v1/users/{}", user["id"].as_str().unwrap()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["avatar"]["width"], 400);
    assert_eq!(public["avatar"]["height"], 400);
    let bytes = app
        .variant_bytes(public["avatar"]["url"].as_str().unwrap())
        .await;
    let pixels = image::load_from_memory(&bytes).unwrap();
    assert_eq!((pixels.width(), pixels.height()), (400, 400));

    // Someone else's avatar upload cannot be borrowed.
    let (_, other) = app.user_with_token("mallory").await;
    let response = app
        .patch_json(
            "/v1/users/@mallory",
            Some(&other),
            &json!({"avatar_media_id": avatar}),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn uploads_never_completed_are_cleaned_up_after_expiry() {
    let app = spawn_app_with(|config| config.upload_url_ttl_secs = 1).await;
    let (_, token) = app.user_with_token("jane").await;
    let bytes = samples::png(&samples::split_colours(8, 8));
    let ticket: Value = app
        .start_upload(&token, "image/png", bytes.len(), "post")
        .await
        .json()
        .await
        .unwrap();
    let id = ticket["upload_id"].as_str().unwrap().to_owned();
    assert!(app.put_upload(&ticket, bytes).await.status().is_success());
    assert!(app.object_exists(&upload_key(&id)).await);
    assert_eq!(
        app.app.cleanup_expired_uploads().await.unwrap(),
        0,
        "not expired yet"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.app.cleanup_expired_uploads().await.unwrap(), 1);
    let status = app
        .get(&format!("/v1/media/upload/{id}/status"), Some(&token))
        .await;
    assert_problem(status, StatusCode::NOT_FOUND, "not_found").await;
    app.run_jobs().await;
    assert!(!app.object_exists(&upload_key(&id)).await);
}

#[tokio::test]
async fn a_job_whose_worker_keeps_dying_ends_dead_and_the_upload_failed_without_objects() {
    let app = spawn_app_with(|config| config.job_max_attempts = 2).await;
    let (_, token) = app.user_with_token("jane").await;
    let id = app
        .upload(
            &token,
            samples::png(&samples::split_colours(300, 200)),
            "image/png",
            "post",
        )
        .await;
    let lease = std::time::Duration::from_millis(100);
    for _ in 0..2 {
        let claimed = app
            .store()
            .claim_jobs(
                "dying-worker",
                time::OffsetDateTime::now_utc(),
                lease,
                10,
                picshare_store::JobLane::Heavy,
            )
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    app.run_jobs().await;
    let status = app.upload_status(&token, &id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(
        status["error"],
        "the image could not be processed; please try again"
    );
    assert!(!app.object_exists(&original_key(&id)).await);
    let counts = app.store().job_counts().await.unwrap();
    assert_eq!((counts[0].state.as_str(), counts[0].count), ("dead", 1));
}

#[tokio::test]
async fn every_author_on_a_page_of_comments_and_followers_shows_their_own_avatar() {
    let app = spawn_app().await;
    let (_, owner) = app.quick_user("owner").await;
    let post = app.post_with_image(&owner, "public").await;
    let post_id = post["id"].as_str().unwrap();
    let mut expected = Vec::new();
    for n in 0..3 {
        let handle = format!("fan{n}");
        let (_, token) = app.quick_user(&handle).await;
        let photo = samples::png(&samples::split_colours(40 + n * 10, 40));
        let avatar = app.upload(&token, photo, "image/png", "avatar").await;
        app.run_jobs().await;
        let set = app
            .patch_json(
                &format!("/v1/users/@{handle}"),
                Some(&token),
                &json!({"avatar_media_id": avatar}),
            )
            .await;
        assert_eq!(set.status(), StatusCode::OK);
        let profile: Value = app
            .get(&format!("/v1/users/@{handle}"), None)
            .await
            .json()
            .await
            .unwrap();
        expected.push((handle.clone(), profile["avatar"]["url"].clone()));
        app.post_json(
            &format!("/v1/posts/{post_id}/comments"),
            Some(&token),
            &json!({"text": "nice"}),
        )
        .await;
        app.post_empty("/v1/users/@owner/follow", Some(&token))
            .await;
    }
    for path in [
        format!("/v1/posts/{post_id}/comments"),
        "/v1/users/@owner/followers".to_owned(),
    ] {
        let page: Value = app.get(&path, None).await.json().await.unwrap();
        let mut shown: Vec<(String, Value)> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let user = if item["author"].is_object() {
                    &item["author"]
                } else {
                    item
                };
                (
                    user["handle"].as_str().unwrap().to_owned(),
                    user["avatar"]["url"].clone(),
                )
            })
            .collect();
        shown.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(shown, expected, "{path}");
        assert!(expected.iter().all(|(_, url)| url.is_string()));
    }
}
