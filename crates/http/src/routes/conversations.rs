//! `/v1/conversations`: direct messages between 2–32 people.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use picshare_app::events::ReadReceipt;
use picshare_app::messaging::{ConversationView, MessageView};
use picshare_domain::User;
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
use crate::routes::users::PublicUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_conversation, list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(send_message, list_messages))
        .routes(routes!(mark_conversation_read))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConversationRequest {
    /// The other participants: one for a 1:1 (reused if it exists), up to 31 for a group.
    #[schema(min_items = 1, max_items = 31)]
    pub participant_ids: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
    /// Your idempotency key: sending it again returns the first message and sends nothing.
    #[schema(min_length = 1, max_length = 64)]
    pub client_message_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageResponse {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// `null` once the sender's account is deleted.
    pub sender: Option<PublicUser>,
    pub text: String,
    pub client_message_id: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationResponse {
    pub id: Uuid,
    /// A 1:1 conversation (there is one per pair).
    pub is_direct: bool,
    /// Everyone taking part, you included.
    pub participants: Vec<PublicUser>,
    pub last_message: Option<MessageResponse>,
    /// Messages from others since you last read the conversation.
    pub unread_count: i64,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub items: Vec<ConversationResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub items: Vec<MessageResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadReceiptResponse {
    pub conversation_id: Uuid,
    /// Who read it.
    pub reader_id: Uuid,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub read_at: OffsetDateTime,
}

impl From<ReadReceipt> for ReadReceiptResponse {
    fn from(receipt: ReadReceipt) -> Self {
        Self {
            conversation_id: receipt.conversation_id,
            reader_id: receipt.reader_id.0,
            read_at: receipt.read_at,
        }
    }
}

/// The bodies of messages, their senders' avatars read in one query.
pub async fn message_responses(
    state: &AppState,
    views: Vec<MessageView>,
) -> Result<Vec<MessageResponse>, ApiError> {
    let senders =
        PublicUser::load_all(state, views.iter().filter_map(|v| v.sender.as_ref())).await?;
    Ok(views
        .into_iter()
        .map(|view| {
            let m = view.message;
            MessageResponse {
                id: m.id,
                conversation_id: m.conversation_id,
                sender: m.sender_id.and_then(|id| senders.get(&id).cloned()),
                text: m.text,
                client_message_id: m.client_message_id,
                created_at: m.created_at,
            }
        })
        .collect())
}

async fn conversation_responses(
    state: &AppState,
    views: Vec<ConversationView>,
) -> Result<Vec<ConversationResponse>, ApiError> {
    let users = PublicUser::load_all(
        state,
        views.iter().flat_map(|view| view.participants.iter()),
    )
    .await?;
    let public = |user: &User| {
        users
            .get(&user.id)
            .cloned()
            .unwrap_or_else(|| PublicUser::from(user))
    };
    Ok(views
        .into_iter()
        .map(|view| {
            let c = view.conversation;
            let last_message = c.last_message.map(|m| MessageResponse {
                id: m.id,
                conversation_id: m.conversation_id,
                sender: m
                    .sender_id
                    .and_then(|id| view.participants.iter().find(|u| u.id == id))
                    .map(public),
                text: m.text,
                client_message_id: m.client_message_id,
                created_at: m.created_at,
            });
            ConversationResponse {
                id: c.id,
                is_direct: c.is_direct,
                participants: view.participants.iter().map(public).collect(),
                last_message,
                unread_count: c.unread_count,
                created_at: c.created_at,
                updated_at: c.updated_at,
            }
        })
        .collect())
}

async fn conversation_response(
    state: &AppState,
    view: ConversationView,
) -> Result<ConversationResponse, ApiError> {
    let mut bodies = conversation_responses(state, vec![view]).await?;
    bodies
        .pop()
        .ok_or_else(|| ApiError::from(picshare_app::AppError::NotFound))
}

/// Start a conversation; a 1:1 with someone you have one with already returns that one (200).
#[utoipa::path(post, path = "/v1/conversations", tag = "messages",
    request_body = StartConversationRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Started", body = ConversationResponse),
        (status = 200, description = "The 1:1 you already have with them", body = ConversationResponse),
        (status = 422, description = "Not 1–31 users you can message", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_conversation(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<StartConversationRequest>,
) -> Result<(StatusCode, ApiJson<ConversationResponse>), ApiError> {
    let (view, created) = state
        .app
        .start_conversation(caller, &body.participant_ids)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(conversation_response(&state, view).await?)))
}

/// Your conversations, most recent activity first.
#[utoipa::path(get, path = "/v1/conversations", tag = "messages",
    params(PageParams),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of conversations", body = ConversationList)))]
async fn list_conversations(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Paging(page): Paging,
) -> Result<ApiJson<ConversationList>, ApiError> {
    let page = state.app.conversations(caller, page).await?;
    Ok(ApiJson(ConversationList {
        items: conversation_responses(&state, page.items).await?,
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// One of your conversations.
#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "messages",
    params(("id" = Uuid, Path, description = "Conversation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The conversation", body = ConversationResponse),
        (status = 404, description = "You take no part in such a conversation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_conversation(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<ConversationResponse>, ApiError> {
    let view = state.app.conversation(caller, id).await?;
    Ok(ApiJson(conversation_response(&state, view).await?))
}

/// A conversation's messages, newest first.
#[utoipa::path(get, path = "/v1/conversations/{id}/messages", tag = "messages",
    params(("id" = Uuid, Path, description = "Conversation id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages", body = MessageList),
        (status = 404, description = "You take no part in such a conversation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_messages(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
    Paging(page): Paging,
) -> Result<ApiJson<MessageList>, ApiError> {
    let page = state.app.messages(caller, id, page).await?;
    Ok(ApiJson(MessageList {
        items: message_responses(&state, page.items).await?,
        next_cursor: page.next.map(|key| state.cursors.encode(key)),
    }))
}

/// Send a message; the same `client_message_id` again returns the first message (200).
#[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "messages",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = SendMessageRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Sent", body = MessageResponse),
        (status = 200, description = "Sent before with this client_message_id", body = MessageResponse),
        (status = 403, description = "A block stands between you and the other participant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "You take no part in such a conversation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "You used this client_message_id in another conversation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn send_message(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<(StatusCode, ApiJson<MessageResponse>), ApiError> {
    let (view, created) = state
        .app
        .send_message(caller, id, &body.text, &body.client_message_id)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut bodies = message_responses(&state, vec![view]).await?;
    let body = bodies
        .pop()
        .ok_or_else(|| ApiError::from(picshare_app::AppError::NotFound))?;
    Ok((status, ApiJson(body)))
}

/// You have read the conversation; the others hear of it (`conversation.read`).
#[utoipa::path(post, path = "/v1/conversations/{id}/read", tag = "messages",
    params(("id" = Uuid, Path, description = "Conversation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The read receipt", body = ReadReceiptResponse),
        (status = 404, description = "You take no part in such a conversation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn mark_conversation_read(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<Uuid>,
) -> Result<ApiJson<ReadReceiptResponse>, ApiError> {
    let receipt = state.app.mark_conversation_read(caller, id).await?;
    Ok(ApiJson(receipt.into()))
}
