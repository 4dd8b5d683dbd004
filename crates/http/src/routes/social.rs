//! The follow graph: follow, unfollow, block, unblock, relationship, lists, follow requests.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use picshare_domain::{Relationship, User};
use picshare_store::Page;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser, MaybeAuthUser, user_lookup};
use crate::pagination::{PageParams, Paging};
use crate::routes::users::PublicUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(follow))
        .routes(routes!(unfollow))
        .routes(routes!(block))
        .routes(routes!(unblock))
        .routes(routes!(relationship))
        .routes(routes!(followers))
        .routes(routes!(following))
        .routes(routes!(follow_requests))
        .routes(routes!(approve_follow_request))
        .routes(routes!(reject_follow_request))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelationshipResponse {
    pub following: bool,
    pub followed_by: bool,
    /// A follow request of yours is waiting for their approval.
    pub requested: bool,
    pub blocking: bool,
    pub blocked_by: bool,
}

impl From<Relationship> for RelationshipResponse {
    fn from(r: Relationship) -> Self {
        Self {
            following: r.following,
            followed_by: r.followed_by,
            requested: r.requested,
            blocking: r.blocking,
            blocked_by: r.blocked_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<PublicUser>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

pub async fn user_list(state: &AppState, page: Page<User>) -> Result<UserList, ApiError> {
    // Every avatar of the page in one query.
    let mut loaded = PublicUser::load_all(state, &page.items).await?;
    let items = page
        .items
        .iter()
        .map(|user| {
            loaded
                .remove(&user.id)
                .unwrap_or_else(|| PublicUser::from(user))
        })
        .collect();
    Ok(UserList {
        items,
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    })
}

macro_rules! relationship_action {
    ($name:ident, $path:literal, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = "social",
            params(("id" = String, Path, description = "A user UUID or `@handle`")),
            security(("bearer" = [])),
            responses(
                (status = 200, description = "The relationship now", body = RelationshipResponse),
                (status = 404, description = "No such user (or one who blocks you)", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "A follow limit is reached, or you block this user", body = Problem, content_type = "application/problem+json"),
            ))]
        async fn $name(
            State(state): State<AppState>,
            AuthUser(caller): AuthUser,
            Path(id): Path<String>,
        ) -> Result<ApiJson<RelationshipResponse>, ApiError> {
            let relationship = state.app.$name(caller, &user_lookup(&id)?).await?;
            Ok(ApiJson(relationship.into()))
        }
    };
}

relationship_action!(
    follow,
    "/v1/users/{id}/follow",
    "Follow a user; for a private account, ask to. Idempotent."
);
relationship_action!(
    unfollow,
    "/v1/users/{id}/unfollow",
    "Stop following (or withdraw a request). Idempotent."
);
relationship_action!(
    block,
    "/v1/users/{id}/block",
    "Block a user: follows both ways end and each is hidden from the other. Idempotent."
);
relationship_action!(
    unblock,
    "/v1/users/{id}/unblock",
    "Unblock a user. Idempotent."
);

/// How you and a user stand (answers across blocks too).
#[utoipa::path(get, path = "/v1/users/{id}/relationship", tag = "social",
    params(("id" = String, Path, description = "A user UUID or `@handle`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship", body = RelationshipResponse),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn relationship(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<ApiJson<RelationshipResponse>, ApiError> {
    let relationship = state.app.relationship(caller, &user_lookup(&id)?).await?;
    Ok(ApiJson(relationship.into()))
}

/// A user's followers, newest first.
#[utoipa::path(get, path = "/v1/users/{id}/followers", tag = "social",
    params(("id" = String, Path, description = "A user UUID or `@handle`"), PageParams),
    responses(
        (status = 200, description = "A page of followers", body = UserList),
        (status = 404, description = "No such user, or one whose lists you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn followers(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<String>,
    Paging(page): Paging,
) -> Result<ApiJson<UserList>, ApiError> {
    let page = state
        .app
        .followers(viewer, &user_lookup(&id)?, page)
        .await?;
    Ok(ApiJson(user_list(&state, page).await?))
}

/// The accounts a user follows, newest first.
#[utoipa::path(get, path = "/v1/users/{id}/following", tag = "social",
    params(("id" = String, Path, description = "A user UUID or `@handle`"), PageParams),
    responses(
        (status = 200, description = "A page of followed accounts", body = UserList),
        (status = 404, description = "No such user, or one whose lists you may not see", body = Problem, content_type = "application/problem+json"),
    ))]
async fn following(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    Path(id): Path<String>,
    Paging(page): Paging,
) -> Result<ApiJson<UserList>, ApiError> {
    let page = state
        .app
        .following(viewer, &user_lookup(&id)?, page)
        .await?;
    Ok(ApiJson(user_list(&state, page).await?))
}

/// Pending requests to follow you, newest first.
#[utoipa::path(get, path = "/v1/follow-requests", tag = "social",
    params(PageParams),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of requesters", body = UserList)))]
async fn follow_requests(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Paging(page): Paging,
) -> Result<ApiJson<UserList>, ApiError> {
    let page = state.app.follow_requests(caller, page).await?;
    Ok(ApiJson(user_list(&state, page).await?))
}

/// Approve a follow request.
#[utoipa::path(post, path = "/v1/follow-requests/{user_id}/approve", tag = "social",
    params(("user_id" = String, Path, description = "The requester's UUID or `@handle`")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "They now follow you"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A follow limit is reached", body = Problem, content_type = "application/problem+json"),
    ))]
async fn approve_follow_request(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .approve_follow_request(caller, &user_lookup(&user_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reject a follow request.
#[utoipa::path(post, path = "/v1/follow-requests/{user_id}/reject", tag = "social",
    params(("user_id" = String, Path, description = "The requester's UUID or `@handle`")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Rejected"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reject_follow_request(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .reject_follow_request(caller, &user_lookup(&user_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
