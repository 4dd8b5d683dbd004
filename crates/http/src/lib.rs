//! The HTTP API: one router per feature, merged; middleware; problem+json errors; OpenAPI.

mod error;
mod extract;
mod middleware;
mod openapi;
mod pagination;
mod routes;
mod telemetry;
pub mod timestamp;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderValue;
use metrics_exporter_prometheus::PrometheusHandle;
use picshare_app::App;

pub use error::{ApiError, Problem};
pub use openapi::openapi;

/// HTTP-level settings, mapped from the binary's configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Origins allowed by CORS; empty allows none.
    pub cors_origins: Vec<HeaderValue>,
    pub request_timeout: Duration,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// How often a WebSocket is pinged; two unanswered pings close it.
    pub ws_ping_interval: Duration,
}

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub http: Arc<HttpSettings>,
    /// Encrypts and decrypts list cursors.
    pub cursors: Arc<pagination::Cursors>,
    metrics: PrometheusHandle,
}

/// The whole API as one router, ready to serve.
pub fn router(app: App, http: HttpSettings) -> Router {
    let cursors = pagination::Cursors::new(app.tokens.derived_key("list cursors"));
    let state = AppState {
        app,
        http: Arc::new(http),
        cursors: Arc::new(cursors),
        metrics: telemetry::prometheus(),
    };
    let (api_routes, mut api) = openapi::split();
    openapi::set_upload_limit(&mut api, state.app.media.max_upload_bytes);
    let api = Arc::new(api);
    let routes = api_routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let api = api.clone();
                async move { axum::Json((*api).clone()) }
            }),
        )
        .merge(routes::docs::router())
        .merge(routes::media::files())
        .merge(routes::ws::router())
        .fallback(middleware::not_found);
    middleware::apply(routes, &state).with_state(state)
}
