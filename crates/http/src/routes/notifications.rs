//! `/v1/notifications`: what happened to you, newest first.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use picshare_app::notifications::NotificationView;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, AuthUser};
use crate::pagination::{PageParams, Paging};
use crate::routes::users::{Image, PublicUser};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_notification_read))
        .routes(routes!(mark_all_notifications_read))
        .routes(routes!(unread_notification_count))
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationType {
    Follow,
    FollowRequest,
    Like,
    Comment,
    Mention,
    Message,
}

impl From<picshare_domain::NotificationKind> for NotificationType {
    fn from(kind: picshare_domain::NotificationKind) -> Self {
        use picshare_domain::NotificationKind as Kind;
        match kind {
            Kind::Follow => Self::Follow,
            Kind::FollowRequest => Self::FollowRequest,
            Kind::Like => Self::Like,
            Kind::Comment => Self::Comment,
            Kind::Mention => Self::Mention,
            Kind::Message => Self::Message,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// Who did it.
    pub actor: PublicUser,
    pub post_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    /// The post's thumbnail, where the notification is about a post you may see.
    pub post_thumb: Option<Image>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub read_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    /// Unread notifications, counted up to 1000.
    pub count: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// Only notifications not yet read.
    pub unread: Option<bool>,
}

/// The bodies of notifications, their actors' avatars read in one query.
pub async fn notification_responses(
    state: &AppState,
    views: Vec<NotificationView>,
) -> Result<Vec<NotificationResponse>, ApiError> {
    let actors = PublicUser::load_all(state, views.iter().map(|view| &view.actor)).await?;
    Ok(views
        .into_iter()
        .map(|view| {
            let n = view.notification;
            let actor = actors
                .get(&n.actor_id)
                .cloned()
                .unwrap_or_else(|| PublicUser::from(&view.actor));
            NotificationResponse {
                id: n.id,
                kind: n.kind.into(),
                actor,
                post_id: n.post_id,
                comment_id: n.comment_id,
                conversation_id: n.conversation_id,
                message_id: n.message_id,
                post_thumb: view.post_thumb.map(Image::from),
                created_at: n.created_at,
                read_at: n.read_at,
            }
        })
        .collect())
}

/// Your notifications, newest first.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications",
    params(PageParams, NotificationFilter),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of notifications", body = NotificationList)))]
async fn list_notifications(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Query(filter): Query<NotificationFilter>,
    Paging(page): Paging,
) -> Result<ApiJson<NotificationList>, ApiError> {
    let unread = filter.unread.unwrap_or(false);
    let page = state.app.notifications(caller, unread, page).await?;
    Ok(ApiJson(NotificationList {
        items: notification_responses(&state, page.items).await?,
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// Mark one of your notifications read.
#[utoipa::path(post, path = "/v1/notifications/{id}/read", tag = "notifications",
    params(("id" = Uuid, Path, description = "Notification id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Read"),
        (status = 404, description = "You have no such notification", body = Problem, content_type = "application/problem+json"),
    ))]
async fn mark_notification_read(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.app.mark_notification_read(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark all your notifications read.
#[utoipa::path(post, path = "/v1/notifications/read-all", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 204, description = "All read")))]
async fn mark_all_notifications_read(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.app.mark_all_notifications_read(caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many of your notifications are unread.
#[utoipa::path(get, path = "/v1/notifications/unread-count", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, description = "The unread count", body = UnreadCount)))]
async fn unread_notification_count(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<UnreadCount>, ApiError> {
    let count = state.app.unread_notification_count(caller).await?;
    Ok(ApiJson(UnreadCount { count }))
}
