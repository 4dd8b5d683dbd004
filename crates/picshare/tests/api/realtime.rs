//! `GET /v1/ws`: authenticated before the upgrade, events as they happen on any instance,
//! resume without loss or repeats, and sockets closed when slow, silent or expired.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, spawn_sibling};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp, query: &str) -> String {
    format!(
        "{}/v1/ws{query}",
        app.address.replacen("http://", "ws://", 1)
    )
}

async fn connect_with(
    app: &TestApp,
    query: &str,
    headers: &[(&str, String)],
) -> Result<
    (
        Socket,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    WsError,
> {
    let mut request = ws_url(app, query).into_client_request().unwrap();
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes());
        request
            .headers_mut()
            .insert(name.unwrap(), value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await
}

pub(crate) async fn connect(app: &TestApp, token: &str, query: &str) -> Socket {
    connect_with(app, query, &[("authorization", format!("Bearer {token}"))])
        .await
        .expect("upgrade")
        .0
}

/// The next event, skipping pings.
pub(crate) async fn next_event(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an event within 10 s");
        match frame {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

pub(crate) async fn assert_quiet(socket: &mut Socket) {
    match tokio::time::timeout(Duration::from_millis(400), socket.next()).await {
        Err(_) | Ok(Some(Ok(Message::Ping(_)))) => {}
        Ok(other) => panic!("expected nothing more, got {other:?}"),
    }
}

/// Reads until the server closes; the close code.
pub(crate) async fn close_code(socket: &mut Socket, within: Duration) -> CloseCode {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("closed in time");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => return close.code,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn start_direct(app: &TestApp, token: &str, other: &str) -> String {
    let body: Value = app
        .post_json(
            "/v1/conversations",
            Some(token),
            &json!({"participant_ids": [other]}),
        )
        .await
        .json()
        .await
        .unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, token: &str, conversation: &str, text: &str) -> Value {
    let response = app
        .post_json(
            &format!("/v1/conversations/{conversation}/messages"),
            Some(token),
            &json!({"text": text, "client_message_id": uuid::Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// Redis for tests that need two instances to share events, whichever database runs.
pub(crate) fn shared_redis() -> String {
    std::env::var("PICSHARE_TEST_REDIS_URL")
        .or_else(|_| std::env::var("PICSHARE_TEST_REDIS_SERVER"))
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn a_missing_or_bad_token_is_refused_before_the_upgrade() {
    let app = spawn_app().await;
    for headers in [
        vec![],
        vec![("authorization", "Bearer not-a-token".to_owned())],
    ] {
        match connect_with(&app, "", &headers).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
            }
            other => panic!("expected 401, got {:?}", other.map(|(_, r)| r.status())),
        }
    }
    match connect_with(&app, "?since=not-an-id", &[]).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), StatusCode::BAD_REQUEST),
        other => panic!("expected 400, got {:?}", other.map(|(_, r)| r.status())),
    }
}

#[tokio::test]
async fn browsers_pass_the_token_as_a_query_parameter_or_subprotocol() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let conversation = start_direct(&app, &bob_token, &alice).await;
    let (mut by_query, _) = connect_with(&app, &format!("?access_token={alice_token}"), &[])
        .await
        .expect("upgrade");
    let (mut by_protocol, response) = connect_with(
        &app,
        "",
        &[(
            "sec-websocket-protocol",
            format!("picshare, bearer.{alice_token}"),
        )],
    )
    .await
    .expect("upgrade");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "picshare",
        "the server picks the named protocol, never echoes the token"
    );
    let message = send(&app, &bob_token, &conversation, "hello").await;
    for socket in [&mut by_query, &mut by_protocol] {
        let event = next_event(socket).await;
        assert_eq!(event["type"], "message.created");
        assert_eq!(event["id"], message["id"]);
        assert_eq!(event["data"]["text"], "hello");
        assert_eq!(event["data"]["sender"]["handle"], "bob");
    }
}

#[tokio::test]
async fn an_event_reaches_its_user_on_whichever_instance_holds_the_socket() {
    let first = spawn_app_with(|config| {
        config.redis_url.get_or_insert_with(shared_redis);
    })
    .await;
    let second = spawn_sibling(&first).await;
    let (alice, alice_token) = first.quick_user("alice").await;
    let (bob, bob_token) = first.quick_user("bob").await;
    let mut alice_socket = connect(&first, &alice_token, "").await;
    let mut bob_socket = connect(&second, &bob_token, "").await;
    let conversation = start_direct(&first, &alice_token, &bob).await;
    let message = send(&first, &alice_token, &conversation, "across").await;
    let heard = next_event(&mut bob_socket).await;
    assert_eq!(heard["type"], "message.created");
    assert_eq!(heard["data"]["id"], message["id"]);
    assert_eq!(heard["data"]["conversation_id"], conversation.as_str());
    let echoed = next_event(&mut alice_socket).await;
    assert_eq!(
        echoed["id"], message["id"],
        "the sender's other devices hear it too"
    );

    second
        .post_empty(
            &format!("/v1/conversations/{conversation}/read"),
            Some(&bob_token),
        )
        .await;
    let receipt = next_event(&mut alice_socket).await;
    assert_eq!(receipt["type"], "conversation.read");
    assert_eq!(receipt["data"]["reader_id"], bob.as_str());
    assert_eq!(receipt["data"]["conversation_id"], conversation.as_str());

    // A notification made by a worker of the first instance reaches the second's socket.
    first
        .post_empty(&format!("/v1/users/{bob}/follow"), Some(&alice_token))
        .await;
    first.run_jobs().await;
    let mut events = vec![next_event(&mut bob_socket).await];
    if events[0]["data"]["type"] == "message" {
        events.push(next_event(&mut bob_socket).await);
    }
    let follow = events
        .iter()
        .find(|e| e["data"]["type"] == "follow")
        .expect("follow");
    assert_eq!(follow["type"], "notification.created");
    assert_eq!(follow["data"]["actor"]["id"], alice.as_str());
}

#[tokio::test]
async fn a_client_that_reconnects_gets_what_it_missed_once_then_live_events() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.quick_user("alice").await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let conversation = start_direct(&app, &alice_token, &bob).await;
    let mut socket = connect(&app, &bob_token, "").await;
    let first = send(&app, &alice_token, &conversation, "m1").await;
    let seen = next_event(&mut socket).await;
    assert_eq!(seen["id"], first["id"]);
    socket.close(None).await.unwrap();
    drop(socket);

    let m2 = send(&app, &alice_token, &conversation, "m2").await;
    let m3 = send(&app, &alice_token, &conversation, "m3").await;
    app.post_empty(&format!("/v1/users/{bob}/follow"), Some(&alice_token))
        .await;
    app.run_jobs().await;
    let since = seen["id"].as_str().unwrap();
    let mut socket = connect(&app, &bob_token, &format!("?since={since}")).await;
    let mut replayed = Vec::new();
    for _ in 0..6 {
        replayed.push(next_event(&mut socket).await);
    }
    // m2, m3, the three messages' notifications (made after m1, by the worker) and the follow,
    // oldest first.
    let ids: Vec<&str> = replayed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "in order, none twice");
    assert!(ids.contains(&m2["id"].as_str().unwrap()));
    assert!(ids.contains(&m3["id"].as_str().unwrap()));
    assert!(!ids.contains(&since), "not the one it had");
    let follows = replayed
        .iter()
        .filter(|e| e["type"] == "notification.created" && e["data"]["type"] == "follow")
        .count();
    assert_eq!(follows, 1);
    let told = replayed
        .iter()
        .filter(|e| {
            e["type"] == "notification.created" && e["data"]["actor"]["id"] == alice.as_str()
        })
        .count();
    assert_eq!(told, 4, "three messages and a follow");

    let live = send(&app, &alice_token, &conversation, "m4").await;
    assert_eq!(next_event(&mut socket).await["id"], live["id"]);
    assert_quiet(&mut socket).await;
}

#[tokio::test]
async fn a_socket_that_cannot_keep_up_is_disconnected_not_buffered() {
    let app = spawn_app_with(|config| config.ws_send_queue = 8).await;
    let (bob, bob_token) = app.quick_user("bob").await;
    let mut socket = connect(&app, &bob_token, "").await;
    let bob = picshare_domain::UserId(bob.parse().unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The client reads nothing while far more arrives than any socket buffer holds.
    let hub = app.app.events.hub().clone();
    for _ in 0..60_000 {
        let event = picshare_app::events::Event {
            id: uuid::Uuid::now_v7(),
            data: picshare_app::events::EventData::ConversationRead(
                picshare_app::events::ReadReceipt {
                    conversation_id: uuid::Uuid::now_v7(),
                    reader_id: bob,
                    read_at: time::OffsetDateTime::now_utc(),
                },
            ),
        };
        hub.deliver(&[bob], &std::sync::Arc::new(event));
        if hub.connections() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(hub.connections(), 0, "evicted from the hub");
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(30)).await,
        CloseCode::Library(4002)
    );
}

#[tokio::test]
async fn a_socket_closes_when_its_access_token_expires() {
    let app = spawn_app_with(|config| config.access_token_ttl_secs = 2).await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let mut socket = connect(&app, &bob_token, "").await;
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(6)).await,
        CloseCode::Library(4001)
    );
}

#[tokio::test]
async fn a_socket_that_misses_two_pongs_is_closed() {
    let app = spawn_app_with(|config| config.ws_ping_interval_secs = 1).await;
    let (_bob, bob_token) = app.quick_user("bob").await;
    let mut socket = connect(&app, &bob_token, "").await;
    // Reading nothing, the client answers no ping.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(5)).await,
        CloseCode::Library(4003)
    );
    // One that reads (and so answers) stays open.
    let mut listening = connect(&app, &bob_token, "").await;
    let quiet = tokio::time::timeout(Duration::from_millis(3500), async {
        loop {
            match listening.next().await {
                Some(Ok(Message::Ping(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "still open after three pings: {quiet:?}");
}

/// A Redis server of the test's own, on a port of its own, that the test can stop for real.
struct OwnRedis {
    port: u16,
    process: std::process::Child,
}

impl OwnRedis {
    fn start_on(port: u16) -> Self {
        let process = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/setup installs it)");
        Self { port, process }
    }

    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port)
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn sockets_stay_up_while_redis_is_away_and_delivery_resumes_when_it_returns() {
    let mut redis = OwnRedis::start();
    redis.wait_ready().await;
    let url = redis.url();
    let first = spawn_app_with(|config| config.redis_url = Some(url)).await;
    let second = spawn_sibling(&first).await;
    let (_alice, alice_token) = first.quick_user("alice").await;
    let (bob, bob_token) = first.quick_user("bob").await;
    let conversation = start_direct(&first, &alice_token, &bob).await;
    let mut bob_socket = connect(&second, &bob_token, "").await;
    let before = send(&first, &alice_token, &conversation, "before").await;
    assert_eq!(next_event(&mut bob_socket).await["id"], before["id"]);

    redis.kill();
    // Sending still works (the message is stored); it cannot cross instances live.
    let during = send(&first, &alice_token, &conversation, "during").await;
    let port = redis.port;
    let _redis = OwnRedis::start_on(port);
    // Delivery resumes once both instances are back on Redis, on the same socket.
    let mut resumed = false;
    for i in 0..40 {
        let probe = send(&first, &alice_token, &conversation, &format!("probe {i}")).await;
        let heard = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match bob_socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let event: Value = serde_json::from_str(&text).unwrap();
                        if event["id"] == probe["id"] {
                            return true;
                        }
                    }
                    Some(Ok(_)) => continue,
                    other => panic!("the socket went down: {other:?}"),
                }
            }
        })
        .await;
        if heard.is_ok() {
            resumed = true;
            break;
        }
    }
    assert!(resumed, "live delivery came back");
    // What the socket missed while Redis was away comes with a resume.
    let since = before["id"].as_str().unwrap();
    let mut again = connect(&second, &bob_token, &format!("?since={since}")).await;
    assert_eq!(next_event(&mut again).await["id"], during["id"]);
}
