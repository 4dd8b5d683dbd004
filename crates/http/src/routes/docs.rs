//! The interactive API reference at `/docs`: Scalar's standalone bundle, vendored
//! (`crates/http/assets/README.md`) and served by the binary, reading `/openapi.json`.
//! No script comes from another host, and the page's policy allows none; the bundled AI agent
//! and developer toolbar, which call Scalar's own servers, are off.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

const SCALAR_PATH: &str = "/docs/scalar-api-reference-1.46.4.js";
const SCALAR: &[u8] = include_bytes!("../../assets/scalar-api-reference-1.46.4.js.gz");

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>PicShare API</title>
</head>
<body>
  <script id="api-reference" data-url="/openapi.json"
    data-configuration='{"withDefaultFonts": false, "agent": {"disabled": true}, "showDeveloperTools": "never"}'></script>
  <script src="/docs/scalar-api-reference-1.46.4.js"></script>
</body>
</html>
"#;

/// Scripts only from this origin; styles and fonts the bundle inlines; calls ("try it") only
/// to this origin.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/docs", get(page))
        .route(SCALAR_PATH, get(script))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// The bundle as stored, gzip-encoded: every browser takes gzip (a client that sends no
/// `Accept-Encoding` accepts any coding); one that refuses gzip is told so.
async fn script(headers: HeaderMap) -> Response {
    let refuses_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accepted| !accepted.to_ascii_lowercase().contains("gzip"));
    if refuses_gzip {
        return crate::ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "this script is only served gzip-encoded",
        )
        .into_response();
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CONTENT_ENCODING, "gzip"),
            // The version is in the path: a new bundle is a new URL.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        SCALAR,
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}
