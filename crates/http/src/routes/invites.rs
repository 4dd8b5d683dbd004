//! `/v1/invites`: codes you hand out; and the invite tree, for moderators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use picshare_store::Invite;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser, Moderator};
use crate::pagination::{PageParams, Paging};
use crate::routes::users::PublicUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invite, list_invites))
        .routes(routes!(invite_stats))
        .routes(routes!(revoke_invite))
        .routes(routes!(invite_tree))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteResponse {
    /// 12 characters of `23456789ABCDEFGHJKMNPQRSTUVWXYZ`.
    pub code: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    pub used_by: Option<Uuid>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub used_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<Invite> for InviteResponse {
    fn from(invite: Invite) -> Self {
        Self {
            code: invite.code,
            created_at: invite.created_at,
            expires_at: invite.expires_at,
            used_by: invite.used_by.map(|id| id.0),
            used_at: invite.used_at,
            revoked_at: invite.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteList {
    pub items: Vec<InviteResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteStatsResponse {
    pub created: u64,
    pub used: u64,
    pub expired: u64,
    pub revoked: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteTreeResponse {
    pub user: PublicUser,
    /// Who invited the user, then who invited them, up to the root (at most 50).
    pub invited_by: Vec<PublicUser>,
    /// The accounts the user invited, oldest first.
    pub invitees: Vec<PublicUser>,
    pub next_cursor: Option<String>,
}

/// Create an invite: valid for 7 days, used once; as many open at once as your trust level
/// allows (3, 10, 50, 200).
#[utoipa::path(post, path = "/v1/invites", tag = "invites", security(("bearer" = [])),
    responses(
        (status = 201, description = "The invite", body = InviteResponse),
        (status = 409, description = "You hold as many open invites as you may", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_invite(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<(StatusCode, ApiJson<InviteResponse>), ApiError> {
    let invite = state.app.create_invite(caller).await?;
    Ok((StatusCode::CREATED, ApiJson(invite.into())))
}

/// Your invites, newest first.
#[utoipa::path(get, path = "/v1/invites", tag = "invites", params(PageParams),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of your invites", body = InviteList)))]
async fn list_invites(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Paging(page): Paging,
) -> Result<ApiJson<InviteList>, ApiError> {
    let page = state.app.invites(caller, page).await?;
    Ok(ApiJson(InviteList {
        items: page.items.into_iter().map(InviteResponse::from).collect(),
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// How many of your invites were created, used, expired unused and revoked.
#[utoipa::path(get, path = "/v1/invites/stats", tag = "invites", security(("bearer" = [])),
    responses((status = 200, description = "Your invites by state", body = InviteStatsResponse)))]
async fn invite_stats(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<InviteStatsResponse>, ApiError> {
    let stats = state.app.invite_stats(caller).await?;
    Ok(ApiJson(InviteStatsResponse {
        created: stats.created,
        used: stats.used,
        expired: stats.expired,
        revoked: stats.revoked,
    }))
}

/// Revoke one of your unused invites.
#[utoipa::path(post, path = "/v1/invites/{code}/revoke", tag = "invites",
    params(("code" = String, Path, description = "Invite code")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "You have no such unused invite", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_invite(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke_invite(caller, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who invited an account, up to the root, and whom it invited (moderators): a spam wave traced
/// to where it entered.
#[utoipa::path(get, path = "/v1/moderation/users/{id}/invite-tree", tag = "moderation",
    params(("id" = Uuid, Path, description = "User id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's place in the invite tree", body = InviteTreeResponse),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn invite_tree(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    Paging(page): Paging,
) -> Result<ApiJson<InviteTreeResponse>, ApiError> {
    let tree = state
        .app
        .invite_tree(caller, picshare_domain::UserId(id), page)
        .await?;
    Ok(ApiJson(InviteTreeResponse {
        user: PublicUser::from(&tree.user),
        invited_by: tree.invited_by.iter().map(PublicUser::from).collect(),
        invitees: tree.invitees.items.iter().map(PublicUser::from).collect(),
        next_cursor: tree.invitees.next.map(|key| state.cursors.encode(key)),
    }))
}
