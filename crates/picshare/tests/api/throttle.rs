use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with, spawn_sibling};

async fn fail_login(app: &TestApp, login: &str) {
    let response = app.password_grant(login, "definitely wrong password").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

async fn assert_throttled(response: reqwest::Response) {
    let headers = response.headers().clone();
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["ratelimit-limit"], "10");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("ratelimit-reset"));
}

/// A login attempt that appears to come from `ip` (the test server trusts 127.0.0.1 as a proxy).
async fn attempt_from(app: &TestApp, ip: &str, login: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/token"))
        .header("x-forwarded-for", ip)
        .json(&serde_json::json!({"grant_type": "password", "login": login, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guesses_from_one_address_never_lock_the_owner_out_elsewhere() {
    let app = spawn_app_with(|config| config.trusted_proxies = "127.0.0.1".into()).await;
    app.sign_up("jane").await;
    for _ in 0..10 {
        let response = attempt_from(&app, "203.0.113.1", "jane", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "203.0.113.1", "jane", PASSWORD).await).await;
    // The owner, from anywhere else, still gets in with the right password.
    let owner = attempt_from(&app, "198.51.100.1", "jane", PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_distributed_guesser_locks_out_unknown_addresses_but_not_the_owners_own() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = "127.0.0.1".into();
        config.login_failures_per_account_all_addresses = 10;
    })
    .await;
    app.sign_up("jane").await;
    let known = attempt_from(&app, "198.51.100.50", "jane", PASSWORD).await;
    assert_eq!(known.status(), StatusCode::OK);
    for n in 0..10 {
        let response =
            attempt_from(&app, &format!("203.0.113.{n}"), "jane", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limit_headers =
        |response: &reqwest::Response| response.headers()["ratelimit-limit"].clone();
    let unknown = attempt_from(&app, "198.51.100.1", "jane", PASSWORD).await;
    assert_eq!(limit_headers(&unknown), "10");
    assert_problem(unknown, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let owner = attempt_from(&app, "198.51.100.50", "jane", PASSWORD).await;
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "the owner's known address gets in"
    );
}

#[tokio::test]
async fn the_throttle_answers_alike_for_an_accounts_email_and_any_other_email() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = "127.0.0.1".into();
        config.login_failures_per_ip = 100;
    })
    .await;
    app.sign_up("jane").await;
    for _ in 0..10 {
        let response = attempt_from(&app, "203.0.113.9", "jane", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "203.0.113.9", "jane", "wrong password!").await).await;
    // The handle is throttled; its email answers exactly as an email of nobody does.
    let email = attempt_from(&app, "203.0.113.9", "jane@example.com", "wrong password!").await;
    let stranger = attempt_from(&app, "203.0.113.9", "nobody@example.com", "wrong password!").await;
    assert_eq!(email.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64() {
    let app = spawn_app_with(|config| config.trusted_proxies = "127.0.0.1".into()).await;
    app.sign_up("jane").await;
    for n in 1..=10 {
        let address = format!("2001:db8:7:7::{n:x}");
        let response = attempt_from(&app, &address, &format!("nobody{n}"), "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "2001:db8:7:7:ffff::1", "jane", PASSWORD).await).await;
    let next_network = attempt_from(&app, "2001:db8:7:8::1", "jane", PASSWORD).await;
    assert_eq!(next_network.status(), StatusCode::OK);
}

#[tokio::test]
async fn overlong_logins_are_refused_before_any_work() {
    let app = spawn_app().await;
    let before = app.app.hasher.verifications();
    let response = app
        .password_grant(&"x".repeat(60_000), "whatever password")
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(crate::helpers::error_fields(&problem), ["login"]);
    assert_eq!(
        app.app.hasher.verifications(),
        before,
        "no password was checked"
    );
}

#[tokio::test]
async fn ten_failures_from_one_address_lock_that_address() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    for n in 0..10 {
        fail_login(&app, &format!("nobody{n}")).await;
    }
    assert_throttled(app.password_grant("jane", PASSWORD).await).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_counted() {
    let app = spawn_app_with(|config| config.trusted_proxies = "127.0.0.1".into()).await;
    app.sign_up("jane").await;
    for n in 0..10 {
        let response = attempt_from(
            &app,
            "203.0.113.7",
            &format!("nobody{n}"),
            "wrong password!",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "203.0.113.7", "jane", PASSWORD).await).await;
    let other_client = attempt_from(&app, "198.51.100.9", "jane", PASSWORD).await;
    assert_eq!(other_client.status(), StatusCode::OK);
}

#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = "127.0.0.1".into();
        config.signups_per_ip = 3;
    })
    .await;
    let sign_up = |handle: String, ip: &'static str| {
        app.client
            .post(app.url("/v1/users"))
            .header("x-forwarded-for", ip)
            .json(&serde_json::json!({"handle": handle, "email": format!("{handle}@example.com"), "password": PASSWORD}))
            .send()
    };
    for n in 0..3 {
        let created = sign_up(format!("flood{n}"), "203.0.113.5").await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let refused = sign_up("flood3".into(), "203.0.113.5").await.unwrap();
    assert_eq!(refused.headers()["ratelimit-limit"], "3");
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let elsewhere = sign_up("someone".into(), "198.51.100.5").await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::CREATED);
    let off = spawn_app_with(|config| {
        config.signups_per_ip = 1;
        config.rate_limits = "off".into();
    })
    .await;
    off.sign_up("first").await;
    off.sign_up("second").await;
}

#[tokio::test]
async fn a_sign_up_flood_leaves_existing_users_logins_working() {
    // Limits off: the flood reaches the hashing pool, as from many addresses it would.
    let app = spawn_app_with(|config| config.rate_limits = "off".into()).await;
    let users: Vec<String> = (0..4).map(|n| format!("member{n}")).collect();
    for user in &users {
        app.sign_up(user).await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooders = (0..24).map(|client| {
        let (app_client, url, stop) = (app.client.clone(), app.url("/v1/users"), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let handle = format!("f{client}x{n}");
                let _ = app_client
                    .post(&url)
                    .json(&serde_json::json!({"handle": handle, "email": format!("{handle}@example.com"), "password": PASSWORD}))
                    .send()
                    .await;
                n += 1;
            }
        })
    });
    let flooders: Vec<_> = flooders.collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let logins = users.iter().map(|user| async {
        let mut ok = 0;
        for _ in 0..8 {
            if app.password_grant(user, PASSWORD).await.status() == StatusCode::OK {
                ok += 1;
            }
        }
        ok
    });
    let succeeded: usize = futures::future::join_all(logins).await.into_iter().sum();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for flooder in flooders {
        flooder.await.unwrap();
    }
    assert_eq!(succeeded, 32, "every login during the flood succeeded");
}

#[tokio::test]
async fn untrusted_peers_cannot_dodge_the_limit_with_forwarded_headers() {
    let app = spawn_app().await;
    app.sign_up("jane").await;
    for n in 0..10 {
        let response = attempt_from(
            &app,
            &format!("203.0.113.{n}"),
            &format!("nobody{n}"),
            "wrong password!",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(attempt_from(&app, "198.51.100.9", "jane", PASSWORD).await).await;
}

#[tokio::test]
async fn limits_are_shared_by_instances_on_one_redis() {
    let redis = std::env::var("PICSHARE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let first = spawn_app_with(|config| config.redis_url = Some(redis)).await;
    let second = spawn_sibling(&first).await;
    first.sign_up("jane").await;
    for n in 0..10 {
        let instance = if n % 2 == 0 { &first } else { &second };
        fail_login(instance, "jane").await;
    }
    assert_throttled(first.password_grant("jane", PASSWORD).await).await;
    assert_throttled(second.password_grant("jane", PASSWORD).await).await;
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_no_more_than_the_limit() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = "127.0.0.1".into();
        config.login_failures_per_account_all_addresses = 10;
    })
    .await;
    app.sign_up("jane").await;
    let guesses = (0..20).map(|n| {
        let request = app
            .client
            .post(app.url("/v1/auth/token"))
            .header("x-forwarded-for", format!("203.0.113.{n}"))
            .json(&serde_json::json!({"grant_type": "password", "login": "jane", "password": format!("guess number {n}")}));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (10, 10), "{statuses:?}");
}

/// The real binary in a process of its own, killed when dropped.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

async fn start_server(data: &tempfile::TempDir, redis_prefix: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_picshare"));
    command
        .arg("serve")
        .env("PICSHARE_LISTEN", format!("127.0.0.1:{port}"))
        .env("PICSHARE_DATA_DIR", data.path())
        .env("PICSHARE_LOG_LEVEL", "error")
        .env("PICSHARE_REDIS_PREFIX", redis_prefix)
        .env("PICSHARE_PASSWORD_HASH_WORKERS", "2");
    if let Ok(redis) = std::env::var("PICSHARE_TEST_REDIS_URL") {
        command.env("PICSHARE_REDIS_URL", redis);
    }
    let server = Server {
        child: command.spawn().expect("start picshare"),
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(format!("{}/healthz", server.url)).await
            && response.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("picshare did not start");
}

#[tokio::test]
async fn a_flood_of_long_logins_stores_nothing_and_grows_no_memory() {
    let data = tempfile::TempDir::new().unwrap();
    let prefix = format!("picshare-attack-{}", uuid::Uuid::now_v7().simple());
    let server = start_server(&data, &prefix).await;
    let client = reqwest::Client::new();
    let attempt = |login: String| {
        client
            .post(format!("{}/v1/auth/token", server.url))
            .json(&serde_json::json!({"grant_type": "password", "login": login, "password": "wrong password!"}))
            .send()
    };
    for n in 0..10 {
        assert_eq!(
            attempt(format!("nobody{n}")).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Warm the server's paths up, then measure what the flood adds.
    for n in 0..200 {
        let status = attempt(format!("{n}{}", "w".repeat(300)))
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let before = server.resident_kib();
    let keys_before = redis_keys(&prefix).await;
    let flood = (0..8).map(|lane| {
        let attempt = &attempt;
        async move {
            for n in 0..500 {
                let long = format!("{lane}-{n}-{}", "a".repeat(64_000));
                let status = attempt(long).await.unwrap().status();
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
                let short = format!("{lane}-{n}-{}", "b".repeat(300));
                let status = attempt(short).await.unwrap().status();
                assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            }
        }
    });
    futures::future::join_all(flood).await;
    let grown_kib = server.resident_kib().saturating_sub(before);
    assert!(
        grown_kib <= 20 * 1024,
        "the process grew by {grown_kib} KiB"
    );
    assert_eq!(
        redis_keys(&prefix).await,
        keys_before,
        "the flood made no Redis keys"
    );
}

/// Keys under `prefix` in the test Redis (none without one).
async fn redis_keys(prefix: &str) -> Vec<String> {
    let Ok(url) = std::env::var("PICSHARE_TEST_REDIS_URL") else {
        return Vec::new();
    };
    let client = redis::Client::open(url).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    keys.sort();
    keys
}
