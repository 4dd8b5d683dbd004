//! Operations endpoints: liveness, readiness, metrics.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
    /// Each dependency (`database`, `redis` when configured, `storage`): `ok` or `unavailable`.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// The problem+json of a 503 from `/readyz`, with each dependency's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessProblem {
    #[serde(flatten)]
    pub problem: Problem,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// The database, Redis (when configured) and object storage answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency is down", body = ReadinessProblem, content_type = "application/problem+json"),
    ))]
async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.app.readiness().await;
    let checks: BTreeMap<_, _> = readiness
        .iter()
        .map(|&(name, up)| (name, if up { "ok" } else { "unavailable" }))
        .collect();
    let failing: Vec<_> = readiness
        .iter()
        .filter(|(_, up)| !up)
        .map(|(name, _)| *name)
        .collect();
    if failing.is_empty() {
        return axum::Json(Readiness {
            status: "ok",
            checks,
        })
        .into_response();
    }
    let detail = format!("not ready: {} unreachable", failing.join(", "));
    let problem = ReadinessProblem {
        problem: ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).problem(),
        checks,
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(problem)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::error::PROBLEM_JSON),
    );
    response
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> Response {
    let pool = state.app.store.pool_stats();
    metrics::gauge!("picshare_db_pool_connections", "state" => "in_use").set(pool.in_use);
    metrics::gauge!("picshare_db_pool_connections", "state" => "idle").set(pool.idle);
    match state.app.store.job_counts().await {
        Ok(counts) => {
            // Kinds and states with no rows must read 0, not their last value.
            for kind in picshare_app::worker::JOB_KINDS {
                for job_state in ["queued", "running", "dead"] {
                    metrics::gauge!("picshare_jobs", "kind" => kind, "state" => job_state).set(0.0);
                }
            }
            for count in counts {
                metrics::gauge!("picshare_jobs", "kind" => count.kind, "state" => count.state)
                    .set(count.count as f64);
            }
        }
        Err(err) => tracing::warn!(error = %err, "reading job queue depth failed"),
    }
    batch_metrics(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Each batch job's last run, by whichever process ran it (read from the database).
async fn batch_metrics(state: &AppState) {
    let runs = match state.app.store.batch_runs().await {
        Ok(runs) => runs,
        Err(err) => return tracing::warn!(error = %err, "reading batch runs failed"),
    };
    for run in runs {
        let job = run.name;
        if let Some(at) = run.finished_at {
            metrics::gauge!("picshare_batch_last_finished_seconds", "job" => job.clone())
                .set(at.unix_timestamp() as f64);
        }
        if let Some(succeeded) = run.succeeded {
            metrics::gauge!("picshare_batch_last_succeeded", "job" => job.clone())
                .set(f64::from(u8::from(succeeded)));
        }
        metrics::gauge!("picshare_batch_last_found", "job" => job.clone()).set(run.found as f64);
        metrics::gauge!("picshare_batch_last_fixed", "job" => job).set(run.fixed as f64);
    }
}
