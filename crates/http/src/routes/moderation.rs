//! `/v1/moderation/*` and `/v1/admin/*`: reports by anyone; the queue, takedowns, suspensions
//! and the audit log for moderators; roles for admins.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use picshare_app::moderation::ReportView;
use picshare_domain::{AuditEntry, Report, Target, TargetKind, UserId};
use picshare_store::Takedown;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{Admin, ApiJson, AuthUser, Moderator};
use crate::pagination::{PageParams, Paging};
use crate::routes::users::PublicUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(flag_user))
        .routes(routes!(flag_post))
        .routes(routes!(flag_comment))
        .routes(routes!(list_reports))
        .routes(routes!(resolve_report))
        .routes(routes!(take_down_post))
        .routes(routes!(take_down_comment))
        .routes(routes!(reinstate_post))
        .routes(routes!(reinstate_comment))
        .routes(routes!(suspend_user))
        .routes(routes!(unsuspend_user))
        .routes(routes!(audit_log))
        .routes(routes!(change_role))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FlagRequest {
    /// `spam`, `harassment`, `nudity`, `violence` or `other`.
    #[schema(pattern = "^(spam|harassment|nudity|violence|other)$")]
    pub reason: String,
    /// Up to 1000 characters.
    pub text: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResponse {
    pub id: Uuid,
    #[schema(value_type = String, pattern = "^(user|post|comment)$")]
    pub target_kind: &'static str,
    pub target_id: Uuid,
    #[schema(value_type = String, pattern = "^(spam|harassment|nudity|violence|other)$")]
    pub reason: &'static str,
    pub text: Option<String>,
    #[schema(value_type = String, pattern = "^(open|dismissed|actioned)$")]
    pub state: &'static str,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<OffsetDateTime>,
}

impl From<&Report> for ReportResponse {
    fn from(report: &Report) -> Self {
        Self {
            id: report.id,
            target_kind: report.target.kind.as_str(),
            target_id: report.target.id,
            reason: report.reason.as_str(),
            text: report.text.clone(),
            state: report.state.as_str(),
            created_at: report.created_at,
            resolved_at: report.resolved_at,
        }
    }
}

/// A report in the moderators' queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedReportResponse {
    #[serde(flatten)]
    pub report: ReportResponse,
    /// Open reports on the same target, this one included.
    pub target_report_count: i64,
    pub reporter: Option<PublicUser>,
    /// The reported user, or the author of the reported post or comment.
    pub target_owner: Option<PublicUser>,
    /// The reported post's caption or comment's text.
    pub target_text: Option<String>,
    /// The target owner's risk score, 0–100 (see `GET /v1/moderation/users/{id}`).
    pub target_owner_risk_score: u8,
}

impl From<&ReportView> for QueuedReportResponse {
    fn from(view: &ReportView) -> Self {
        Self {
            report: ReportResponse::from(&view.queued.report),
            target_report_count: view.queued.target_reports,
            reporter: view.reporter.as_ref().map(PublicUser::from),
            target_owner: view.target_owner.as_ref().map(PublicUser::from),
            target_text: view.target_text.clone(),
            target_owner_risk_score: view.target_owner_risk,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    pub items: Vec<QueuedReportResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveRequest {
    /// `dismiss` (nothing wrong) or `act` (dealt with, e.g. by a takedown).
    #[schema(pattern = "^(dismiss|act)$")]
    pub resolution: String,
    /// Up to 1000 characters, kept in the audit log.
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonRequest {
    /// Why, 1–1000 characters; shown to the author of taken-down content and kept in the audit
    /// log.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TakedownResponse {
    #[schema(value_type = String, pattern = "^(post|comment)$")]
    pub target_kind: &'static str,
    pub target_id: Uuid,
    pub author_id: Uuid,
    /// The author's strikes that stand, this takedown's included.
    pub strikes: u32,
    /// Set when this takedown's strike suspended the author.
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_until: Option<OffsetDateTime>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SuspendRequest {
    /// How long, in seconds (at most ten years).
    pub duration_secs: u64,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuspensionResponse {
    pub user_id: Uuid,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub suspended_until: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: Uuid,
    pub actor_id: Uuid,
    pub action: &'static str,
    #[schema(value_type = String, pattern = "^(user|post|comment)$")]
    pub target_kind: &'static str,
    pub target_id: Uuid,
    pub reason: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_until: Option<OffsetDateTime>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<&AuditEntry> for AuditEntryResponse {
    fn from(entry: &AuditEntry) -> Self {
        Self {
            id: entry.id,
            actor_id: entry.actor_id.0,
            action: entry.action.as_str(),
            target_kind: entry.target.kind.as_str(),
            target_id: entry.target.id,
            reason: entry.reason.clone(),
            suspended_until: entry.suspended_until,
            created_at: entry.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEntryResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only actions by this moderator or admin.
    pub actor_id: Option<Uuid>,
    /// Only actions on this user, post or comment.
    pub target_id: Option<Uuid>,
    /// Only this action.
    #[param(
        pattern = "^(takedown_post|reinstate_post|takedown_comment|reinstate_comment|suspend_user|unsuspend_user|dismiss_report|action_report|grant_moderator|remove_moderator|verify_user|unverify_user)$"
    )]
    pub action: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    /// `moderator` (grant) or `user` (remove).
    #[schema(pattern = "^(moderator|user)$")]
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleResponse {
    pub user_id: Uuid,
    #[schema(value_type = String, pattern = "^(user|moderator)$")]
    pub role: &'static str,
}

fn target(kind: TargetKind, id: Uuid) -> Target {
    Target { kind, id }
}

async fn flag(
    state: &AppState,
    caller: picshare_app::auth::Principal,
    target: Target,
    body: FlagRequest,
) -> Result<(StatusCode, ApiJson<ReportResponse>), ApiError> {
    let (report, created) = state
        .app
        .report(caller, target, &body.reason, body.text.as_deref())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(ReportResponse::from(&report))))
}

/// Report a user.
#[utoipa::path(post, path = "/v1/moderation/users/{id}/flag", tag = "moderation",
    params(("id" = Uuid, Path, description = "User id")), request_body = FlagRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Reported", body = ReportResponse),
        (status = 200, description = "Your open report on this user, unchanged", body = ReportResponse),
        (status = 404, description = "No such user you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "You cannot report yourself", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reason or text", body = Problem, content_type = "application/problem+json"),
    ))]
async fn flag_user(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<FlagRequest>,
) -> Result<(StatusCode, ApiJson<ReportResponse>), ApiError> {
    flag(&state, caller, target(TargetKind::User, id), body).await
}

/// Report a post.
#[utoipa::path(post, path = "/v1/moderation/posts/{id}/flag", tag = "moderation",
    params(("id" = Uuid, Path, description = "Post id")), request_body = FlagRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Reported", body = ReportResponse),
        (status = 200, description = "Your open report on this post, unchanged", body = ReportResponse),
        (status = 404, description = "No such post you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "You cannot report your own post", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reason or text", body = Problem, content_type = "application/problem+json"),
    ))]
async fn flag_post(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<FlagRequest>,
) -> Result<(StatusCode, ApiJson<ReportResponse>), ApiError> {
    flag(&state, caller, target(TargetKind::Post, id), body).await
}

/// Report a comment.
#[utoipa::path(post, path = "/v1/moderation/comments/{id}/flag", tag = "moderation",
    params(("id" = Uuid, Path, description = "Comment id")), request_body = FlagRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Reported", body = ReportResponse),
        (status = 200, description = "Your open report on this comment, unchanged", body = ReportResponse),
        (status = 404, description = "No such comment you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "You cannot report your own comment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reason or text", body = Problem, content_type = "application/problem+json"),
    ))]
async fn flag_comment(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<FlagRequest>,
) -> Result<(StatusCode, ApiJson<ReportResponse>), ApiError> {
    flag(&state, caller, target(TargetKind::Comment, id), body).await
}

/// Open reports, oldest first (moderators).
#[utoipa::path(get, path = "/v1/moderation/reports", tag = "moderation",
    params(PageParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of open reports", body = ReportList),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_reports(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Paging(page): Paging,
) -> Result<ApiJson<ReportList>, ApiError> {
    let page = state.app.open_reports(caller, page).await?;
    Ok(ApiJson(ReportList {
        items: page.items.iter().map(QueuedReportResponse::from).collect(),
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// Resolve a report, with every other open report on its target (moderators).
#[utoipa::path(post, path = "/v1/moderation/reports/{id}/resolve", tag = "moderation",
    params(("id" = Uuid, Path, description = "Report id")), request_body = ResolveRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Resolved", body = ReportResponse),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad resolution or note", body = Problem, content_type = "application/problem+json"),
    ))]
async fn resolve_report(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<ApiJson<ReportResponse>, ApiError> {
    let report = state
        .app
        .resolve_report(caller, id, &body.resolution, body.note.as_deref())
        .await?;
    Ok(ApiJson(ReportResponse::from(&report)))
}

async fn take_down(
    state: &AppState,
    caller: picshare_app::auth::Principal,
    target: Target,
    reason: &str,
) -> Result<ApiJson<TakedownResponse>, ApiError> {
    let Takedown {
        author,
        strikes,
        suspended_until,
        ..
    } = state.app.take_down(caller, target, reason).await?;
    Ok(ApiJson(TakedownResponse {
        target_kind: target.kind.as_str(),
        target_id: target.id,
        author_id: author.0,
        strikes,
        suspended_until,
    }))
}

/// Take a post down: 404 to everyone but its author and moderators, a strike for its author
/// (moderators). Taking down what is already down changes nothing.
#[utoipa::path(post, path = "/v1/moderation/posts/{id}/takedown", tag = "moderation",
    params(("id" = Uuid, Path, description = "Post id")), request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Taken down", body = TakedownResponse),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason given", body = Problem, content_type = "application/problem+json"),
    ))]
async fn take_down_post(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<ApiJson<TakedownResponse>, ApiError> {
    take_down(&state, caller, target(TargetKind::Post, id), &body.reason).await
}

/// Take a comment down (moderators).
#[utoipa::path(post, path = "/v1/moderation/comments/{id}/takedown", tag = "moderation",
    params(("id" = Uuid, Path, description = "Comment id")), request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Taken down", body = TakedownResponse),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such comment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason given", body = Problem, content_type = "application/problem+json"),
    ))]
async fn take_down_comment(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<ApiJson<TakedownResponse>, ApiError> {
    take_down(
        &state,
        caller,
        target(TargetKind::Comment, id),
        &body.reason,
    )
    .await
}

/// Reverse a post's takedown and withdraw its strike (moderators).
#[utoipa::path(post, path = "/v1/moderation/posts/{id}/reinstate", tag = "moderation",
    params(("id" = Uuid, Path, description = "Post id")), request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Reinstated"),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post taken down", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason given", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reinstate_post(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<StatusCode, ApiError> {
    let target = target(TargetKind::Post, id);
    state.app.reinstate(caller, target, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reverse a comment's takedown and withdraw its strike (moderators).
#[utoipa::path(post, path = "/v1/moderation/comments/{id}/reinstate", tag = "moderation",
    params(("id" = Uuid, Path, description = "Comment id")), request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Reinstated"),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such comment taken down", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason given", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reinstate_comment(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<StatusCode, ApiError> {
    let target = target(TargetKind::Comment, id);
    state.app.reinstate(caller, target, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Suspend an account: its sessions are refused at once, everywhere (moderators; a moderator
/// only by an admin).
#[utoipa::path(post, path = "/v1/moderation/users/{id}/suspend", tag = "moderation",
    params(("id" = Uuid, Path, description = "User id")), request_body = SuspendRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Suspended; a longer suspension already on the account stays, and its end is returned", body = SuspensionResponse),
        (status = 403, description = "Not a moderator, or the user is yourself or a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad duration or no reason", body = Problem, content_type = "application/problem+json"),
    ))]
async fn suspend_user(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<SuspendRequest>,
) -> Result<ApiJson<SuspensionResponse>, ApiError> {
    let length = std::time::Duration::from_secs(body.duration_secs);
    let until = state
        .app
        .suspend(caller, UserId(id), length, &body.reason)
        .await?;
    Ok(ApiJson(SuspensionResponse {
        user_id: id,
        suspended_until: until,
    }))
}

/// Lift a suspension before its end (moderators).
#[utoipa::path(post, path = "/v1/moderation/users/{id}/unsuspend", tag = "moderation",
    params(("id" = Uuid, Path, description = "User id")), request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Lifted"),
        (status = 403, description = "Not a moderator, or the user is yourself or a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not suspended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason given", body = Problem, content_type = "application/problem+json"),
    ))]
async fn unsuspend_user(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .lift_suspension(caller, UserId(id), &body.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every moderation and admin action, newest first (moderators).
#[utoipa::path(get, path = "/v1/moderation/audit", tag = "moderation",
    params(PageParams, AuditQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditList),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown action", body = Problem, content_type = "application/problem+json"),
    ))]
async fn audit_log(
    State(state): State<AppState>,
    Moderator(caller): Moderator,
    Query(query): Query<AuditQuery>,
    Paging(page): Paging,
) -> Result<ApiJson<AuditList>, ApiError> {
    let actor = query.actor_id.map(UserId);
    let action = query.action.as_deref();
    let page = state
        .app
        .audit_log(caller, actor, query.target_id, action, page)
        .await?;
    Ok(ApiJson(AuditList {
        items: page.items.iter().map(AuditEntryResponse::from).collect(),
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// Grant (`moderator`) or remove (`user`) the moderator role (admins; never your own role or
/// an admin's).
#[utoipa::path(post, path = "/v1/admin/users/{id}/role", tag = "moderation",
    params(("id" = Uuid, Path, description = "User id")), request_body = RoleRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The role now", body = RoleResponse),
        (status = 403, description = "Not an admin, or your own or an admin's role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad role", body = Problem, content_type = "application/problem+json"),
    ))]
async fn change_role(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<RoleRequest>,
) -> Result<ApiJson<RoleResponse>, ApiError> {
    let user = state
        .app
        .change_role(caller, UserId(id), &body.role)
        .await?;
    Ok(ApiJson(RoleResponse {
        user_id: user.id.0,
        role: user.role.as_str(),
    }))
}
