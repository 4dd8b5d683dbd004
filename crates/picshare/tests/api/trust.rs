//! Trust levels, per-action limits and devices, as users and moderators meet them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{GENEROUS_LIMITS, TestApp, assert_problem, error_fields, spawn_app_with};
use crate::moderation::staff;

/// Every instance of the shape under test: two on one Redis in the scaled shape (limits must
/// hold across them), the one process of the embedded shape.
async fn instances(app: TestApp) -> Vec<TestApp> {
    if app.config.redis_url.is_some() {
        let sibling = crate::helpers::spawn_sibling(&app).await;
        vec![app, sibling]
    } else {
        vec![app]
    }
}

async fn public_post(app: &TestApp, token: &str) -> String {
    app.post_with_image(token, "public").await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn limits(overrides: &str) -> String {
    format!("{GENEROUS_LIMITS},{overrides}")
}

pub(crate) async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub(crate) fn quota<'a>(limits: &'a Value, action: &str, period: &str) -> &'a Value {
    limits["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["action"] == action && q["period"] == period)
        .unwrap_or_else(|| panic!("no {action} per {period} in {limits}"))
}

#[tokio::test]
async fn limits_hold_across_instances_exactly_n_of_m_in_parallel() {
    let app = spawn_app_with(|config| {
        config.limits_new = limits("likes_per_hour=5,follows_per_day=3");
    })
    .await;
    let all = instances(app).await;
    let app = &all[0];
    let (_, author) = app.quick_user("author").await;
    let post = public_post(app, &author).await;
    let (_, fan) = app.quick_user("fan").await;
    let likes = (0..12)
        .map(|n| all[n % all.len()].post_empty(&format!("/v1/posts/{post}/like"), Some(&fan)));
    let answers = futures::future::join_all(likes).await;
    let passed = answers.iter().filter(|r| r.status().is_success()).count();
    assert_eq!(passed, 5, "exactly the quota of likes passes");
    let refused: Vec<_> = answers
        .into_iter()
        .filter(|r| !r.status().is_success())
        .collect();
    assert_eq!(refused.len(), 7);
    for response in refused {
        let headers = response.headers().clone();
        assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        // One more like every 3600 s / 5.
        assert!((700..=720).contains(&retry_after), "{retry_after}");
        assert_eq!(headers["ratelimit-limit"], "5");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert_eq!(headers["ratelimit-reset"], headers["retry-after"]);
    }

    // Follows of six different accounts: three are made, and the refused three wrote nothing.
    let mut targets = Vec::new();
    for n in 0..6 {
        targets.push(app.quick_user(&format!("target{n}")).await.0);
    }
    let follows = targets.iter().enumerate().map(|(n, target)| {
        all[n % all.len()].post_empty(&format!("/v1/users/{target}/follow"), Some(&fan))
    });
    let answers = futures::future::join_all(follows).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    let me = json_of(app.get("/v1/auth/me", Some(&fan)).await).await;
    assert_eq!(me["following_count"], 3);

    // Every instance reports the same spent quotas.
    for instance in &all {
        let state = json_of(instance.get("/v1/account/rate-limits", Some(&fan)).await).await;
        assert_eq!(state["enforced"], true);
        assert_eq!(state["trust_level"], "new");
        let likes = quota(&state, "likes", "hour");
        assert_eq!(
            (&likes["limit"], &likes["remaining"]),
            (&json!(5), &json!(0))
        );
        let reset = likes["reset_secs"].as_u64().unwrap();
        assert!((3500..=3600).contains(&reset), "{reset}");
        let follows = quota(&state, "follows", "day");
        assert_eq!(follows["remaining"], 0);
        let posts = quota(&state, "posts", "hour");
        assert_eq!(posts["remaining"], posts["limit"], "nothing spent on posts");
    }
}

/// In the scaled shape an instance reserves a few units ahead for a user acting several times a
/// second; the quota still holds exactly across instances, and unused units come back.
#[tokio::test]
async fn units_an_instance_reserves_for_a_busy_user_are_counted_and_given_back() {
    let app = spawn_app_with(|config| {
        config.limits_new = limits("likes_per_hour=100");
    })
    .await;
    if app.config.redis_url.is_none() {
        return;
    }
    let all = instances(app).await;
    let (_, author) = all[0].quick_user("author").await;
    let post = public_post(&all[0], &author).await;
    let like = format!("/v1/posts/{post}/like");
    let likes_left = |n: usize, token: String| {
        let instance = &all[n];
        async move {
            let state = json_of(instance.get("/v1/account/rate-limits", Some(&token)).await).await;
            quota(&state, "likes", "hour")["remaining"]
                .as_u64()
                .unwrap()
        }
    };

    let (_, busy) = all[0].quick_user("busy").await;
    for _ in 0..10 {
        assert!(
            all[0]
                .post_empty(&like, Some(&busy))
                .await
                .status()
                .is_success()
        );
    }
    let left = likes_left(1, busy.clone()).await;
    assert!(
        (82..90).contains(&left),
        "ten likes and some units held by the first instance: {left}"
    );
    // Held units the first instance did not use in time go back with its next like.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert!(
        all[0]
            .post_empty(&like, Some(&busy))
            .await
            .status()
            .is_success()
    );
    assert_eq!(likes_left(1, busy).await, 89);

    // One user's likes alternating between the instances: exactly the quota passes.
    let (_, fan) = all[0].quick_user("fan").await;
    let mut passed = 0;
    for n in 0..130 {
        if all[n % 2]
            .post_empty(&like, Some(&fan))
            .await
            .status()
            .is_success()
        {
            passed += 1;
        }
    }
    assert_eq!(passed, 100);
}

#[tokio::test]
async fn rate_limits_off_lifts_every_per_action_quota() {
    let app = spawn_app_with(|config| {
        config.limits_new = limits("likes_per_hour=1");
        config.rate_limits = "off".into();
    })
    .await;
    let (_, author) = app.quick_user("author").await;
    let post = public_post(&app, &author).await;
    let (_, fan) = app.quick_user("fan").await;
    for _ in 0..3 {
        let like = app
            .post_empty(&format!("/v1/posts/{post}/like"), Some(&fan))
            .await;
        assert_eq!(like.status(), StatusCode::OK);
    }
    let state = json_of(app.get("/v1/account/rate-limits", Some(&fan)).await).await;
    assert_eq!(state["enforced"], false);
    assert_eq!(quota(&state, "likes", "hour")["remaining"], 1);
}

/// Moves the account's creation back by `days`.
async fn age_account(app: &TestApp, user: &str, days: i64) {
    let id = app.sql_uuid(user);
    let shift = if app.is_sqlite() {
        format!("created_at - {}", days * 86_400 * 1_000_000)
    } else {
        format!("created_at - interval '{days} days'")
    };
    app.execute_sql(&format!(
        "UPDATE users SET created_at = {shift} WHERE id = {id}"
    ))
    .await;
}

async fn trust_score(app: &TestApp, token: &str) -> Value {
    json_of(app.get("/v1/account/trust-score", Some(token)).await).await
}

fn unmet(score: &Value) -> Vec<String> {
    score["next_level"]["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["met"] == false)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn levels_are_earned_by_the_record_cost_by_strikes_and_granted_by_admins() {
    let app = spawn_app_with(|config| {
        config.limits_new = limits("posts_per_hour=50");
        config.limits_basic = limits("posts_per_hour=12");
        config.limits_trusted = limits("posts_per_hour=9");
        config.limits_verified = limits("posts_per_hour=11");
    })
    .await;
    let (jane, token) = app.quick_user("jane").await;
    let score = trust_score(&app, &token).await;
    assert_eq!(score["trust_level"], "new");
    assert_eq!(score["next_level"]["trust_level"], "basic");
    assert_eq!(unmet(&score), ["account_age_days", "posts"]);

    age_account(&app, &jane, 3).await;
    let first = app.post_with_image(&token, "public").await;
    let score = trust_score(&app, &token).await;
    assert_eq!(score["trust_level"], "basic");
    assert_eq!(unmet(&score), ["account_age_days", "posts", "followers"]);
    let me = json_of(app.get("/v1/auth/me", Some(&token)).await).await;
    assert_eq!(me["trust_level"], "basic");
    let state = json_of(app.get("/v1/account/rate-limits", Some(&token)).await).await;
    assert_eq!(
        quota(&state, "posts", "hour")["limit"],
        12,
        "basic quotas apply"
    );

    age_account(&app, &jane, 30).await;
    for _ in 0..9 {
        app.post_with_image(&token, "public").await;
    }
    for n in 0..10 {
        let (_, fan) = app.quick_user(&format!("fan{n}")).await;
        let follow = app
            .post_empty(&format!("/v1/users/{jane}/follow"), Some(&fan))
            .await;
        assert_eq!(follow.status(), StatusCode::OK);
    }
    let score = trust_score(&app, &token).await;
    assert_eq!(score["trust_level"], "trusted");
    assert_eq!(score["score"], 100);
    assert_eq!(score["next_level"], Value::Null);

    // A takedown's strike costs a level at once.
    let (_, moderator) = staff(&app, "mod", picshare_domain::Role::Moderator).await;
    let takedown = app
        .post_json(
            &format!(
                "/v1/moderation/posts/{}/takedown",
                first["id"].as_str().unwrap()
            ),
            Some(&moderator),
            &json!({"reason": "spam"}),
        )
        .await;
    assert_eq!(takedown.status(), StatusCode::OK);
    let score = trust_score(&app, &token).await;
    assert_eq!(score["trust_level"], "basic");
    assert_eq!(score["score"], 75);
    assert_eq!(unmet(&score), ["recent_strikes"]);
    let state = json_of(app.get("/v1/account/rate-limits", Some(&token)).await).await;
    assert_eq!(quota(&state, "posts", "hour")["limit"], 12);
    // Reversing the takedown withdraws the strike, and the level comes back at once.
    let reinstate = app
        .post_json(
            &format!(
                "/v1/moderation/posts/{}/reinstate",
                first["id"].as_str().unwrap()
            ),
            Some(&moderator),
            &json!({"reason": "appeal upheld"}),
        )
        .await;
    assert_eq!(reinstate.status(), StatusCode::NO_CONTENT);
    assert_eq!(trust_score(&app, &token).await["trust_level"], "trusted");

    // Verification is an admin's, audited; a moderator is refused.
    assert_problem(
        verify(&app, &jane, &moderator, true).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let (admin_id, admin) = staff(&app, "root", picshare_domain::Role::Admin).await;
    assert_problem(
        verify(&app, &admin_id, &admin, true).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let verified = json_of(verify(&app, &jane, &admin, true).await).await;
    assert_eq!(verified["trust_level"], "verified");
    let state = json_of(app.get("/v1/account/rate-limits", Some(&token)).await).await;
    assert_eq!(quota(&state, "posts", "hour")["limit"], 11);
    let audit = json_of(
        app.get(
            &format!("/v1/moderation/audit?target_id={jane}&action=verify_user"),
            Some(&moderator),
        )
        .await,
    )
    .await;
    assert_eq!(audit["items"][0]["reason"], "the real Jane");
    let withdrawn = json_of(verify(&app, &jane, &admin, false).await).await;
    assert_eq!(withdrawn["trust_level"], "trusted");
}

#[tokio::test]
async fn a_device_shared_by_many_accounts_raises_their_risk_and_halves_new_limits() {
    let app = spawn_app_with(|config| {
        config.limits_new = limits("likes_per_hour=4");
    })
    .await;
    let (author_id, author) = app.quick_user("author").await;
    let post = public_post(&app, &author).await;
    let fingerprint = "canvas:3f9a;gpu:angle;tz:Europe/Paris";
    let mut farm = Vec::new();
    for n in 0..4 {
        let (id, token) = app.quick_user(&format!("farm{n}")).await;
        let register = app
            .post_json(
                "/v1/account/device/register",
                Some(&token),
                &json!({"fingerprint": fingerprint}),
            )
            .await;
        assert_eq!(register.status(), StatusCode::CREATED);
        let body = register.text().await.unwrap();
        assert!(
            !body.contains("canvas"),
            "the fingerprint is never echoed: {body}"
        );
        farm.push((id, token));
    }
    let (last, token) = &farm[3];
    let again = app
        .post_json(
            "/v1/account/device/register",
            Some(token),
            &json!({"fingerprint": fingerprint}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK, "a known device is not new");
    let devices = json_of(app.get("/v1/account/devices", Some(token)).await).await;
    assert_eq!(devices["items"].as_array().unwrap().len(), 1);
    assert!(!devices.to_string().contains("canvas"));

    // Three other accounts on its device: high risk, so half of new's four likes an hour.
    let likes = (0..4).map(|_| app.post_empty(&format!("/v1/posts/{post}/like"), Some(token)));
    let passed = futures::future::join_all(likes)
        .await
        .iter()
        .filter(|r| r.status().is_success())
        .count();
    assert_eq!(passed, 2);
    let (_, alone) = app.quick_user("alone").await;
    let state = json_of(app.get("/v1/account/rate-limits", Some(&alone)).await).await;
    assert_eq!(
        quota(&state, "likes", "hour")["limit"],
        4,
        "others keep new's limits"
    );

    // Moderators see the risk on the account and on reports about it.
    let (_, moderator) = staff(&app, "mod", picshare_domain::Role::Moderator).await;
    let review = json_of(
        app.get(&format!("/v1/moderation/users/{last}"), Some(&moderator))
            .await,
    )
    .await;
    assert_eq!(review["risk_score"], 60);
    assert_eq!(review["trust_level"], "new");
    let flag = app
        .post_json(
            &format!("/v1/moderation/users/{last}/flag"),
            Some(&alone),
            &json!({"reason": "spam"}),
        )
        .await;
    assert_eq!(flag.status(), StatusCode::CREATED);
    let queue = json_of(app.get("/v1/moderation/reports", Some(&moderator)).await).await;
    assert_eq!(queue["items"][0]["target_owner_risk_score"], 60);
    let clean = json_of(
        app.get(
            &format!("/v1/moderation/users/{}", author_id),
            Some(&moderator),
        )
        .await,
    )
    .await;
    assert_eq!(clean["risk_score"], 0);

    // Throwaway devices push the shared one out of the list, but not out of the record.
    for n in 0..21 {
        let register = app
            .post_json(
                "/v1/account/device/register",
                Some(token),
                &json!({"fingerprint": format!("throwaway-device-{n}")}),
            )
            .await;
        assert_eq!(register.status(), StatusCode::CREATED);
    }
    let devices = json_of(app.get("/v1/account/devices?limit=100", Some(token)).await).await;
    assert_eq!(devices["items"].as_array().unwrap().len(), 20);
    let review = json_of(
        app.get(&format!("/v1/moderation/users/{last}"), Some(&moderator))
            .await,
    )
    .await;
    assert_eq!(review["risk_score"], 60);

    let bad = app
        .post_json(
            "/v1/account/device/register",
            Some(&alone),
            &json!({"fingerprint": "short"}),
        )
        .await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["fingerprint"]);
    let devices = json_of(app.get("/v1/account/devices", Some(&alone)).await).await;
    assert_eq!(
        devices["items"],
        json!([]),
        "a refused registration stores nothing"
    );
}

async fn verify(app: &TestApp, user: &str, token: &str, verified: bool) -> reqwest::Response {
    app.post_json(
        &format!("/v1/admin/users/{user}/verification"),
        Some(token),
        &json!({"verified": verified, "reason": "the real Jane"}),
    )
    .await
}

#[tokio::test]
async fn accounts_registering_one_device_at_once_all_count_each_other() {
    let app = spawn_app_with(|_| {}).await;
    let mut farm = Vec::new();
    for n in 0..5 {
        farm.push(app.quick_user(&format!("burst{n}")).await);
    }
    let body = json!({"fingerprint": "canvas:77aa;gpu:swiftshader"});
    let registrations = farm
        .iter()
        .map(|(_, token)| app.post_json("/v1/account/device/register", Some(token), &body));
    for answer in futures::future::join_all(registrations).await {
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    let (_, moderator) = staff(&app, "mod", picshare_domain::Role::Moderator).await;
    for (id, _) in &farm {
        let review = json_of(
            app.get(&format!("/v1/moderation/users/{id}"), Some(&moderator))
                .await,
        )
        .await;
        assert_eq!(review["risk_score"], 80, "four others on its device");
    }
}
