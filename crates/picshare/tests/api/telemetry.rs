//! Span export over OTLP/HTTP: the real binary, configured with `PICSHARE_OTLP_ENDPOINT`, sends
//! the spans of the requests it served to a collector.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use tempfile::TempDir;

use crate::helpers::test_config;
use crate::processes::Process;

// Two threads: the collector keeps answering while the test waits for the server to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_reach_the_otlp_collector() {
    // The collector: every export it receives, with its content type.
    let (exports, mut received) = tokio::sync::mpsc::channel::<(String, Vec<u8>)>(64);
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let exports = exports.clone();
            async move {
                let content_type = headers
                    .get("content-type")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let _ = exports.send((content_type, body.to_vec())).await;
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let data = TempDir::new().unwrap();
    let mut config = test_config(&data).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.listen = format!("127.0.0.1:{port}");
    config.otlp_endpoint = Some(format!("http://{collector_address}/v1/traces"));
    let mut server = Process::start(&config, "serve", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start");
    let marker = format!("otlp-{}", uuid::Uuid::now_v7().simple());
    let response = client
        .get(format!("{base}/v1/users/@nobody_here"))
        .header("x-request-id", &marker)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Shutting down flushes what is still queued.
    server.terminate();
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some((content_type, body)) = received.recv().await {
            if contains(&body, marker.as_bytes()) {
                return Some((content_type, body));
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let (content_type, body) = found.expect("an export carrying the request's span");
    assert_eq!(content_type, "application/x-protobuf");
    assert!(contains(&body, b"request"), "the span's name");
    assert!(contains(&body, b"picshare"), "the service name");
    assert!(
        contains(&body, b"/v1/users/@nobody_here"),
        "the request's path"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
