//! Trust and safety: reports, the moderators' queue, takedowns that hide content everywhere at
//! once, strikes and the suspensions they bring, roles, and the audit log of it all.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::feed::{feed_page, follow, post};
use crate::helpers::{
    TestApp, assert_problem, error_fields, spawn_app, spawn_app_with, spawn_sibling,
};

/// A user with `role`, straight in the store; (id, access token).
pub(crate) async fn staff(
    app: &TestApp,
    handle: &str,
    role: picshare_domain::Role,
) -> (String, String) {
    let (id, token) = app.quick_user(handle).await;
    app.store()
        .set_role(picshare_domain::UserId(id.parse().unwrap()), role)
        .await
        .unwrap();
    (id, token)
}

async fn comment(app: &TestApp, token: &str, post: &str) -> String {
    let response = app
        .post_json(
            &format!("/v1/posts/{post}/comments"),
            Some(token),
            &json!({"text": "nice"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn take_down(app: &TestApp, token: &str, kind: &str, id: &str) -> Value {
    let response = app
        .post_json(
            &format!("/v1/moderation/{kind}/{id}/takedown"),
            Some(token),
            &json!({"reason": "against the rules"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn audit(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let page: Value = app
        .get(&format!("/v1/moderation/audit{query}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_owned())
        .collect()
}

fn seconds_from_now(timestamp: &Value) -> i64 {
    let at = time::OffsetDateTime::parse(
        timestamp.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    (at - time::OffsetDateTime::now_utc()).whole_seconds()
}

#[tokio::test]
async fn anyone_reports_once_per_target_what_they_can_see_but_not_their_own() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let public = post(&app, &alice_token, "public").await;
    let hidden = post(&app, &alice_token, "followers").await;
    let remark = comment(&app, &alice_token, &public).await;

    let flag = |path: String, body: Value| {
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(&bob_token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let first = flag(
        format!("/v1/moderation/posts/{public}/flag"),
        json!({"reason": "spam", "text": "selling things"}),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        (first["state"].as_str(), first["reason"].as_str()),
        (Some("open"), Some("spam"))
    );
    let again = flag(
        format!("/v1/moderation/posts/{public}/flag"),
        json!({"reason": "other"}),
    )
    .await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the open report, not a second one"
    );
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);

    for path in [
        format!("/v1/moderation/users/{alice}/flag"),
        format!("/v1/moderation/comments/{remark}/flag"),
    ] {
        assert_eq!(
            flag(path, json!({"reason": "harassment"})).await.status(),
            StatusCode::CREATED
        );
    }
    // What the reporter cannot see does not exist for them.
    let unseen = flag(
        format!("/v1/moderation/posts/{hidden}/flag"),
        json!({"reason": "spam"}),
    )
    .await;
    assert_problem(unseen, StatusCode::NOT_FOUND, "not_found").await;
    let bad = flag(
        format!("/v1/moderation/users/{alice}/flag"),
        json!({"reason": "boring", "text": "x".repeat(1001)}),
    )
    .await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["reason", "text"]);
    let own = app
        .post_json(
            &format!("/v1/moderation/posts/{public}/flag"),
            Some(&alice_token),
            &json!({"reason": "spam"}),
        )
        .await;
    assert_problem(own, StatusCode::CONFLICT, "conflict").await;
    let anonymous = app
        .post_json(
            &format!("/v1/moderation/users/{alice}/flag"),
            None,
            &json!({"reason": "spam"}),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn moderators_work_the_queue_oldest_first_and_resolving_closes_a_targets_reports() {
    let app = spawn_app().await;
    let (_mod_id, mod_token) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (carol, _) = app.quick_user("carol").await;
    let mut reporters = Vec::new();
    for name in ["bob", "dave", "erin"] {
        reporters.push(app.quick_user(name).await.1);
    }
    for token in &reporters {
        let path = format!("/v1/moderation/users/{alice}/flag");
        app.post_json(&path, Some(token), &json!({"reason": "spam"}))
            .await;
    }
    let path = format!("/v1/moderation/users/{carol}/flag");
    app.post_json(&path, Some(&reporters[0]), &json!({"reason": "other"}))
        .await;

    let refused = app.get("/v1/moderation/reports", Some(&alice_token)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let queue: Value = app
        .get("/v1/moderation/reports?limit=3", Some(&mod_token))
        .await
        .json()
        .await
        .unwrap();
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|r| r["target_id"] == json!(alice) && r["target_report_count"] == 3)
    );
    assert_eq!(items[0]["target_owner"]["handle"], "alice");
    let rest: Value = app
        .get(
            &format!(
                "/v1/moderation/reports?limit=3&cursor={}",
                queue["next_cursor"].as_str().unwrap()
            ),
            Some(&mod_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"][0]["target_id"], json!(carol));

    let first = items[0]["id"].as_str().unwrap();
    let resolved: Value = app
        .post_json(
            &format!("/v1/moderation/reports/{first}/resolve"),
            Some(&mod_token),
            &json!({"resolution": "dismiss", "note": "not spam"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resolved["state"], "dismissed");
    let queue: Value = app
        .get("/v1/moderation/reports", Some(&mod_token))
        .await
        .json()
        .await
        .unwrap();
    let open: Vec<&Value> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["target_id"])
        .collect();
    assert_eq!(
        open,
        [&json!(carol)],
        "all three reports on alice were resolved"
    );
    let twice = app
        .post_json(
            &format!("/v1/moderation/reports/{first}/resolve"),
            Some(&mod_token),
            &json!({"resolution": "act"}),
        )
        .await;
    assert_problem(twice, StatusCode::CONFLICT, "conflict").await;
    let bad = app
        .post_json(
            &format!("/v1/moderation/reports/{first}/resolve"),
            Some(&mod_token),
            &json!({"resolution": "ignore"}),
        )
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(audit(&app, &mod_token, "").await, ["dismiss_report"]);
}

#[tokio::test]
async fn a_takedown_hides_content_from_everyone_at_once_but_its_author_and_moderators() {
    let app = spawn_app().await;
    let other = spawn_sibling(&app).await;
    let (_mod_id, mod_token) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    follow(&app, &bob_token, &alice).await;
    let kept = post(&app, &alice_token, "public").await;
    let bad = post(&app, &alice_token, "public").await;
    let remark = comment(&app, &bob_token, &kept).await;
    app.run_jobs().await;
    // Bob's feed page is cached on the other instance before the takedown.
    assert_eq!(
        feed_page(&other, &bob_token, "limit=10").await.0,
        [bad.clone(), kept.clone()]
    );
    assert_eq!(
        feed_page(&other, &bob_token, "limit=10").await.0,
        [bad.clone(), kept.clone()]
    );

    let takedown = take_down(&app, &mod_token, "posts", &bad).await;
    assert_eq!(
        (takedown["strikes"].as_u64(), takedown["author_id"].as_str()),
        (Some(1), Some(alice.as_str()))
    );
    assert_eq!(
        feed_page(&other, &bob_token, "limit=10").await.0,
        std::slice::from_ref(&kept)
    );
    for path in [
        format!("/v1/posts/{bad}"),
        format!("/v1/posts/{bad}/likes"),
        format!("/v1/posts/{bad}/comments"),
    ] {
        assert_eq!(
            other.get(&path, Some(&bob_token)).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            other.get(&path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let like = other
        .post_empty(&format!("/v1/posts/{bad}/like"), Some(&bob_token))
        .await;
    assert_eq!(like.status(), StatusCode::NOT_FOUND);
    let profile: Value = other
        .get(&format!("/v1/users/{alice}/posts"), Some(&bob_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["items"].as_array().unwrap().len(), 1);

    // Its author sees it, marked with the reason; so do moderators.
    let own: Value = other
        .get(&format!("/v1/posts/{bad}"), Some(&alice_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["taken_down"]["reason"], "against the rules");
    let own_profile: Value = other
        .get(&format!("/v1/users/{alice}/posts"), Some(&alice_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        own_profile["items"][0]["taken_down"]["reason"],
        "against the rules"
    );
    let seen: Value = other
        .get(&format!("/v1/posts/{bad}"), Some(&mod_token))
        .await
        .json()
        .await
        .unwrap();
    assert!(seen["taken_down"].is_object());
    let visible: Value = other
        .get(&format!("/v1/posts/{kept}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(visible["taken_down"].is_null());

    // A comment: gone from the list for others, there for its author.
    take_down(&app, &mod_token, "comments", &remark).await;
    let count = |page: Value| page["items"].as_array().unwrap().len();
    let reader = &other;
    let comments = |token: Option<String>| {
        let path = format!("/v1/posts/{kept}/comments");
        async move {
            reader
                .get(&path, token.as_deref())
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(count(comments(Some(alice_token.clone())).await), 0);
    assert_eq!(count(comments(Some(bob_token.clone())).await), 1);
    assert_eq!(count(comments(Some(mod_token.clone())).await), 1);

    // A timeline built while the post is down (a new follower's) still gets it back.
    let (_carol, carol_token) = app.quick_user("carol").await;
    follow(&app, &carol_token, &alice).await;
    feed_page(&app, &carol_token, "limit=10").await;
    app.run_jobs().await;
    assert_eq!(
        feed_page(&app, &carol_token, "limit=10").await.0,
        std::slice::from_ref(&kept)
    );

    // Reversed: back for everyone, its strike withdrawn.
    let reinstate = app
        .post_json(
            &format!("/v1/moderation/posts/{bad}/reinstate"),
            Some(&mod_token),
            &json!({"reason": "appeal granted"}),
        )
        .await;
    assert_eq!(reinstate.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        feed_page(&other, &bob_token, "limit=10").await.0,
        [bad.clone(), kept.clone()]
    );
    assert_eq!(
        feed_page(&app, &carol_token, "limit=10").await.0,
        [bad.clone(), kept.clone()]
    );
    assert_eq!(
        other.get(&format!("/v1/posts/{bad}"), None).await.status(),
        StatusCode::OK
    );
    let other_post = take_down(&app, &mod_token, "posts", &kept).await;
    assert_eq!(
        other_post["strikes"], 1,
        "the reinstated post's strike was withdrawn"
    );
    assert_eq!(
        audit(&app, &mod_token, &format!("?target_id={bad}")).await,
        ["reinstate_post", "takedown_post"]
    );
    // A user is refused before the body is looked at: a bad body tells them nothing.
    for body in [json!({"reason": "x"}), json!({})] {
        let by_user = app
            .post_json(
                &format!("/v1/moderation/posts/{kept}/takedown"),
                Some(&bob_token),
                &body,
            )
            .await;
        assert_problem(by_user, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let no_reason = app
        .post_json(
            &format!("/v1/moderation/posts/{kept}/takedown"),
            Some(&mod_token),
            &json!({"reason": " "}),
        )
        .await;
    assert_problem(
        no_reason,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn strikes_three_four_and_five_suspend_for_a_week_a_month_and_a_year() {
    let app = spawn_app().await;
    let (_mod_id, mod_token) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let mut posts = Vec::new();
    for _ in 0..5 {
        posts.push(post(&app, &alice_token, "public").await);
    }
    const DAY: i64 = 86_400;
    let mut lengths = Vec::new();
    for id in &posts {
        let takedown = take_down(&app, &mod_token, "posts", id).await;
        lengths.push(match &takedown["suspended_until"] {
            Value::Null => None,
            until => Some((seconds_from_now(until) + 60) / DAY),
        });
    }
    assert_eq!(lengths, [None, None, Some(7), Some(30), Some(365)]);
    // Strikes alone never suspend staff: no moderator locks another out.
    let (_other_mod, other_mod_token) =
        staff(&app, "moderator2", picshare_domain::Role::Moderator).await;
    for _ in 0..3 {
        let id = post(&app, &other_mod_token, "public").await;
        let takedown = take_down(&app, &mod_token, "posts", &id).await;
        assert!(takedown["suspended_until"].is_null());
    }
    assert_eq!(
        app.get("/v1/auth/me", Some(&other_mod_token))
            .await
            .status(),
        StatusCode::OK
    );
    // Taking down what is down already strikes nobody twice.
    assert_eq!(
        take_down(&app, &mod_token, "posts", &posts[0]).await["strikes"],
        5
    );
    assert_eq!(
        audit(&app, &mod_token, "?action=suspend_user").await,
        ["suspend_user", "suspend_user", "suspend_user"]
    );
}

#[tokio::test]
async fn a_suspended_account_is_refused_at_once_everywhere_until_its_suspension_ends() {
    // Two instances share suspensions through Redis, whichever database runs.
    let app =
        spawn_app_with(|config| config.redis_url = Some(crate::realtime::shared_redis())).await;
    let other = spawn_sibling(&app).await;
    let (_mod_id, mod_token) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let (alice, alice_token) = app.user_with_token("alice").await;
    let alice = alice["id"].as_str().unwrap().to_owned();
    let refresh = app.login("alice").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        other.get("/v1/auth/me", Some(&alice_token)).await.status(),
        StatusCode::OK
    );

    let mut socket = crate::realtime::connect(&other, &alice_token, "").await;
    let suspended: Value = app
        .post_json(
            &format!("/v1/moderation/users/{alice}/suspend"),
            Some(&mod_token),
            &json!({"duration_secs": 3600, "reason": "spam wave"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!((3500..=3600).contains(&seconds_from_now(&suspended["suspended_until"])));
    // The live token, on the other instance too, with nothing but the event bus between them:
    // refused within a second (not at the token's expiry, nor at the 30 s reload).
    let started = std::time::Instant::now();
    while other.get("/v1/auth/me", Some(&alice_token)).await.status() == StatusCode::OK {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "still let in"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Its open socket on the other instance is closed, saying why.
    let code = crate::realtime::close_code(&mut socket, std::time::Duration::from_secs(2)).await;
    assert_eq!(u16::from(code), 4004);
    for instance in [&app, &other] {
        let me = instance.get("/v1/auth/me", Some(&alice_token)).await;
        let problem = assert_problem(me, StatusCode::FORBIDDEN, "account_suspended").await;
        assert_eq!(problem["suspended_until"], suspended["suspended_until"]);
        let write = instance
            .post_json(
                "/v1/posts",
                Some(&alice_token),
                &json!({"media_ids": [], "visibility": "public"}),
            )
            .await;
        assert_problem(write, StatusCode::FORBIDDEN, "account_suspended").await;
    }
    // A shorter suspension leaves the longer one in place.
    let shorter: Value = app
        .post_json(
            &format!("/v1/moderation/users/{alice}/suspend"),
            Some(&mod_token),
            &json!({"duration_secs": 60, "reason": "again"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shorter["suspended_until"], suspended["suspended_until"]);
    let login = other
        .password_grant("alice", crate::helpers::PASSWORD)
        .await;
    assert_problem(login, StatusCode::FORBIDDEN, "account_suspended").await;
    let refreshed = other.refresh_grant(&refresh).await;
    assert_problem(refreshed, StatusCode::FORBIDDEN, "account_suspended").await;

    let lifted = app
        .post_json(
            &format!("/v1/moderation/users/{alice}/unsuspend"),
            Some(&mod_token),
            &json!({"reason": "mistake"}),
        )
        .await;
    assert_eq!(lifted.status(), StatusCode::NO_CONTENT);
    // Lifted on the other instance too, as soon as the bus carries it.
    let started = std::time::Instant::now();
    while other.get("/v1/auth/me", Some(&alice_token)).await.status() != StatusCode::OK {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "still refused"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // A suspension ends by itself.
    app.post_json(
        &format!("/v1/moderation/users/{alice}/suspend"),
        Some(&mod_token),
        &json!({"duration_secs": 1, "reason": "cool off"}),
    )
    .await;
    assert_eq!(
        app.get("/v1/auth/me", Some(&alice_token)).await.status(),
        StatusCode::FORBIDDEN
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        other.get("/v1/auth/me", Some(&alice_token)).await.status(),
        StatusCode::OK
    );
    // The refresh token refused while suspended was not spent by the refusal.
    assert_eq!(other.refresh_grant(&refresh).await.status(), StatusCode::OK);
    assert_eq!(
        other
            .password_grant("alice", crate::helpers::PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        audit(&app, &mod_token, &format!("?target_id={alice}")).await,
        ["suspend_user", "unsuspend_user", "suspend_user"]
    );
    let not_suspended = app
        .post_json(
            &format!("/v1/moderation/users/{alice}/unsuspend"),
            Some(&mod_token),
            &json!({"reason": "again"}),
        )
        .await;
    assert_problem(not_suspended, StatusCode::CONFLICT, "conflict").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let by_user = app
        .post_json(
            &format!("/v1/moderation/users/{alice}/suspend"),
            Some(&bob_token),
            &json!({"duration_secs": 60, "reason": "x"}),
        )
        .await;
    assert_problem(by_user, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn admins_grant_and_remove_moderators_but_nobody_changes_their_own_role() {
    let app = spawn_app().await;
    let (admin, admin_token) = staff(&app, "admin", picshare_domain::Role::Admin).await;
    let (_mod_id, mod_token) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let role = |token: &str, user: &str, role: &str| {
        let request = app
            .client
            .post(app.url(&format!("/v1/admin/users/{user}/role")))
            .bearer_auth(token)
            .json(&json!({"role": role}));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(
        app.get("/v1/moderation/reports", Some(&alice_token))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let granted = role(&admin_token, &alice, "moderator").await;
    assert_eq!(granted.status(), StatusCode::OK);
    assert_eq!(granted.json::<Value>().await.unwrap()["role"], "moderator");
    assert_eq!(
        app.get("/v1/moderation/reports", Some(&alice_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        role(&admin_token, &alice, "user").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/moderation/reports", Some(&alice_token))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    assert_problem(
        role(&admin_token, &admin, "user").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        role(&mod_token, &alice, "moderator").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        role(&alice_token, &alice, "moderator").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        role(&admin_token, &alice, "admin").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        audit(&app, &admin_token, &format!("?actor_id={admin}")).await,
        ["remove_moderator", "grant_moderator"]
    );
    let bad = app
        .get("/v1/moderation/audit?action=erase", Some(&admin_token))
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn the_audit_log_cannot_be_edited_even_through_the_database() {
    let app = spawn_app().await;
    let (admin, admin_token) = staff(&app, "admin", picshare_domain::Role::Admin).await;
    let (alice, _) = app.quick_user("alice").await;
    app.post_json(
        &format!("/v1/admin/users/{alice}/role"),
        Some(&admin_token),
        &json!({"role": "moderator"}),
    )
    .await;
    assert_eq!(
        app.query_i64("SELECT count(*) FROM moderation_audit").await,
        1
    );
    let url = app.config.database_url.clone().unwrap();
    for sql in [
        "UPDATE moderation_audit SET reason = 'nothing happened'",
        "DELETE FROM moderation_audit",
    ] {
        let refused = if app.is_sqlite() {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.err()
        } else {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.err()
        };
        let message = refused.expect("refused").to_string();
        assert!(message.contains("append-only"), "{message}");
    }
    assert_eq!(
        audit(&app, &admin_token, &format!("?actor_id={admin}")).await,
        ["grant_moderator"]
    );
}

#[tokio::test]
async fn a_taken_down_post_notifies_nobody_and_its_images_go_only_by_signed_links() {
    let app = spawn_app().await;
    let (_mod_id, mod_token) = staff(&app, "moderator", picshare_domain::Role::Moderator).await;
    let (_alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let shown = post(&app, &alice_token, "public").await;
    let hidden = post(&app, &alice_token, "public").await;
    let signed = |post: &Value| {
        let url = post["media"][0]["variants"]["thumb"]["url"]
            .as_str()
            .unwrap();
        url.contains("sig=") || url.contains("X-Amz-Signature=")
    };
    let before: Value = app
        .get(&format!("/v1/posts/{hidden}"), None)
        .await
        .json()
        .await
        .unwrap();
    // Local storage serves a public post's images by stable links (S3 signs every link).
    let local = app.config.storage_url.is_none();
    assert!(
        !local || !signed(&before),
        "a public post's images have stable links"
    );
    take_down(&app, &mod_token, "posts", &hidden).await;
    let own: Value = app
        .get(&format!("/v1/posts/{hidden}"), Some(&alice_token))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        signed(&own),
        "taken down: its author gets signed, expiring links"
    );
    let thumb = own["media"][0]["variants"]["thumb"]["url"]
        .as_str()
        .unwrap();
    assert_eq!(
        app.client.get(thumb).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Mentions in both captions: only the post others may see notifies.
    for id in [&shown, &hidden] {
        let edited = app
            .patch_json(
                &format!("/v1/posts/{id}"),
                Some(&alice_token),
                &json!({"caption": "look @bob"}),
            )
            .await;
        assert_eq!(edited.status(), StatusCode::OK);
    }
    app.run_jobs().await;
    let seen: Value = app
        .get("/v1/notifications", Some(&bob_token))
        .await
        .json()
        .await
        .unwrap();
    let about: Vec<&Value> = seen["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["post_id"])
        .collect();
    assert_eq!(about, [&json!(shown)]);
}
