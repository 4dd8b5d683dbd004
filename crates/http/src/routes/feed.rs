//! `/v1/feed`: the home feed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::AuthUser;
use crate::pagination::{PageParams, Paging};
use crate::routes::posts::{PostList, post_responses};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(home_feed))
        .routes(routes!(refresh_feed))
}

/// Your posts and those of the accounts you follow, newest first, as far back as they go.
#[utoipa::path(get, path = "/v1/feed", tag = "feed",
    params(PageParams),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of the feed", body = PostList)))]
async fn home_feed(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Paging(page): Paging,
) -> Result<Response, ApiError> {
    let body = state
        .app
        .home_feed(caller, page, async |page| {
            let list = PostList {
                items: post_responses(&state, page.items).await?,
                next_cursor: page.next.map(|key| state.cursors.encode(key)),
            };
            serde_json::to_vec(&list)
                .map(Bytes::from)
                .map_err(|_| ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Drop and rebuild your cached feed.
#[utoipa::path(post, path = "/v1/feed/refresh", tag = "feed",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Rebuilt"),
        (status = 429, description = "Too many rebuilds this hour", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u64, description = "Seconds until a new rebuild is allowed"))),
    ))]
async fn refresh_feed(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.app.refresh_feed(caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
