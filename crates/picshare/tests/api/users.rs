use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_problem, error_fields, spawn_app, spawn_app_with};

fn sign_up_body(handle: &str, email: &str, password: &str) -> Value {
    json!({"handle": handle, "email": email, "password": password})
}

#[tokio::test]
async fn sign_up_returns_the_private_user_with_email_lowercased() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/users",
            None,
            &json!({"handle": "Jane.Doe", "email": "Jane@Example.COM", "password": PASSWORD, "display_name": "Jane"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["handle"], "Jane.Doe");
    assert_eq!(user["email"], "jane@example.com");
    assert_eq!(user["display_name"], "Jane");
    assert_eq!(user["role"], "user");
    assert_eq!(user["trust_level"], "new");
    assert_eq!(user["followers_count"], 0);
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
    let id = user["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(location, format!("/v1/users/{id}"));
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn each_sign_up_rule_is_enforced_with_the_field_named() {
    let app = spawn_app().await;
    let cases = [
        (sign_up_body("ab", "a@example.com", PASSWORD), "handle"),
        (
            sign_up_body(&"a".repeat(31), "a@example.com", PASSWORD),
            "handle",
        ),
        (
            sign_up_body("jane-doe", "a@example.com", PASSWORD),
            "handle",
        ),
        (sign_up_body("jané", "a@example.com", PASSWORD), "handle"),
        (sign_up_body("jane", "not-an-email", PASSWORD), "email"),
        (sign_up_body("jane", "jane@localhost", PASSWORD), "email"),
        (
            sign_up_body("jane", "jane@example.com", "seven77"),
            "password",
        ),
        (
            sign_up_body("jane", "jane@example.com", &"p".repeat(257)),
            "password",
        ),
        (
            sign_up_body("jane", "jane@example.com", "password1"),
            "password",
        ),
        (
            sign_up_body("jane", "jane@example.com", "iloveyou"),
            "password",
        ),
        (
            json!({"handle": "jane", "email": "jane@example.com", "password": PASSWORD, "display_name": "d".repeat(51)}),
            "display_name",
        ),
        (
            json!({"email": "jane@example.com", "password": PASSWORD}),
            "handle",
        ),
        (
            json!({"handle": "jane", "email": "jane@example.com", "password": PASSWORD, "role": "admin"}),
            "role",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_json("/v1/users", None, &body).await;
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), vec![field.to_owned()], "{body}");
    }
    // Nothing was created by any of the rejected requests.
    let response = app.get("/v1/users/@jane", None).await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn all_invalid_fields_are_reported_together() {
    let app = spawn_app().await;
    let response = app
        .post_json("/v1/users", None, &sign_up_body("x", "nope", "short"))
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), vec!["handle", "email", "password"]);
}

#[tokio::test]
async fn long_passphrases_without_composition_rules_are_accepted() {
    let app = spawn_app().await;
    let passphrase = "é".repeat(256);
    let response = app
        .post_json(
            "/v1/users",
            None,
            &sign_up_body("jane", "jane@example.com", &passphrase),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        app.password_grant("jane", &passphrase).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn duplicate_handle_or_email_in_any_case_is_a_conflict() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    let response = app
        .post_json(
            "/v1/users",
            None,
            &sign_up_body("JANE", "other@example.com", PASSWORD),
        )
        .await;
    let problem = assert_problem(response, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(error_fields(&problem), vec!["handle"]);

    let response = app
        .post_json(
            "/v1/users",
            None,
            &sign_up_body("other", "JANE@EXAMPLE.com", PASSWORD),
        )
        .await;
    let problem = assert_problem(response, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(error_fields(&problem), vec!["email"]);

    // The failed attempts created nobody.
    assert_problem(
        app.get("/v1/users/@other", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn public_user_by_id_or_handle_never_shows_email_or_role() {
    let app = spawn_app().await;
    let user = app.sign_up("jane").await;
    let id = user["id"].as_str().unwrap();
    for path in [format!("/v1/users/{id}"), "/v1/users/@JANE".to_owned()] {
        let response = app.get(&path, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let public: Value = response.json().await.unwrap();
        assert_eq!(public["id"], id);
        assert_eq!(public["handle"], "jane");
        for hidden in ["email", "role", "password_hash", "trust_level"] {
            assert!(public.get(hidden).is_none(), "{hidden} leaked: {public}");
        }
        let keys: Vec<&String> = public.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "avatar",
                "bio",
                "created_at",
                "display_name",
                "followers_count",
                "following_count",
                "handle",
                "id",
                "is_private",
                "posts_count"
            ]
        );
    }
}

#[tokio::test]
async fn unknown_users_and_malformed_ids_are_not_found() {
    let app = spawn_app().await;
    for path in [
        format!("/v1/users/{}", uuid::Uuid::now_v7()),
        "/v1/users/@nobody".to_owned(),
        "/v1/users/not-a-uuid".to_owned(),
        "/v1/users/@a".to_owned(),
    ] {
        assert_problem(
            app.get(&path, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn owner_can_edit_their_profile_and_sees_their_email() {
    let app = spawn_app().await;
    let (user, token) = app.user_with_token("jane").await;
    let path = format!("/v1/users/{}", user["id"].as_str().unwrap());
    let response = app
        .patch_json(
            &path,
            Some(&token),
            &json!({"display_name": "Jane D.", "bio": "Photos of cats", "is_private": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["display_name"], "Jane D.");
    assert_eq!(updated["bio"], "Photos of cats");
    assert_eq!(updated["is_private"], true);
    assert_eq!(updated["email"], "jane@example.com");

    // A partial change leaves the other fields alone, and others see the change.
    app.patch_json("/v1/users/@jane", Some(&token), &json!({"bio": "Dogs now"}))
        .await;
    let public: Value = app.get(&path, None).await.json().await.unwrap();
    assert_eq!(public["display_name"], "Jane D.");
    assert_eq!(public["bio"], "Dogs now");
    assert_eq!(public["is_private"], true);
}

#[tokio::test]
async fn bio_over_150_characters_is_rejected_and_not_saved() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let response = app
        .patch_json(
            "/v1/users/@jane",
            Some(&token),
            &json!({"bio": "b".repeat(151)}),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), vec!["bio"]);
    let public: Value = app.get("/v1/users/@jane", None).await.json().await.unwrap();
    assert_eq!(public["bio"], "");
}

#[tokio::test]
async fn patching_another_user_is_forbidden_and_changes_nothing() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    let (_, mallory) = app.user_with_token("mallory").await;
    let response = app
        .patch_json("/v1/users/@jane", Some(&mallory), &json!({"bio": "pwned"}))
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let jane: Value = app.get("/v1/users/@jane", None).await.json().await.unwrap();
    assert_eq!(jane["bio"], "");
}

#[tokio::test]
async fn role_and_unlisted_fields_cannot_be_patched() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    for (body, field) in [
        (json!({"role": "admin"}), "role"),
        (json!({"bio": "hi", "role": "moderator"}), "role"),
        (json!({"email": "new@example.com"}), "email"),
        (json!({"trust_level": "verified"}), "trust_level"),
        (json!({"followers_count": 1000000}), "followers_count"),
    ] {
        let response = app.patch_json("/v1/users/@jane", Some(&token), &body).await;
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), vec![field.to_owned()], "{body}");
    }
    let me: Value = app
        .get("/v1/auth/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "user");
    assert_eq!(
        me["bio"], "",
        "a rejected request applies none of its fields"
    );
    assert_eq!(me["email"], "jane@example.com");
    assert_eq!(me["trust_level"], "new");
}

#[tokio::test]
async fn patching_requires_a_token() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    let response = app
        .patch_json("/v1/users/@jane", None, &json!({"bio": "x"}))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn avatar_must_name_an_existing_avatar_upload() {
    let app = spawn_app().await;
    let (_, token) = app.user_with_token("jane").await;
    let response = app
        .patch_json(
            "/v1/users/@jane",
            Some(&token),
            &json!({"avatar_media_id": uuid::Uuid::now_v7()}),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), vec!["avatar_media_id"]);
    let response = app
        .patch_json(
            "/v1/users/@jane",
            Some(&token),
            &json!({"avatar_media_id": null}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn invite_only_mode_refuses_open_sign_up() {
    let app = spawn_app_with(|config| config.invite_only = true).await;
    let response = app
        .post_json(
            "/v1/users",
            None,
            &sign_up_body("jane", "jane@example.com", PASSWORD),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "invite_required").await;
    assert_problem(
        app.get("/v1/users/@jane", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
