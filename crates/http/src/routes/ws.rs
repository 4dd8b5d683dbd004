//! `GET /v1/ws`: the real-time stream. Authenticated before the upgrade; replays what a client
//! missed (`?since=`), then live events, never one twice. Pings every `ws_ping_interval` and
//! closes a socket that misses two pongs, whose access token expires, or that cannot keep up.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use picshare_app::auth::Principal;
use picshare_app::events::{Event, EventData};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::bearer_token;
use crate::routes::conversations::{ReadReceiptResponse, message_responses};
use crate::routes::notifications::notification_responses;

/// Not in the OpenAPI document, which has no words for a WebSocket: docs/api.md describes it.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/v1/ws", axum::routing::get(stream))
}

/// The subprotocol a browser offers beside `bearer.<token>`, and the one the server picks.
const SUBPROTOCOL: &str = "picshare";
const TOKEN_PROTOCOL_PREFIX: &str = "bearer.";
/// A frame the client does not take within this long ends the connection.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the client's close frame (the closing handshake).
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// Event ids remembered per socket to drop a second copy (replayed and live, or republished).
const REMEMBERED_IDS: usize = 1024;

/// Close codes (4000–4999 are the application's, RFC 6455 §7.4.2).
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
pub const CLOSE_TOO_SLOW: u16 = 4002;
pub const CLOSE_MISSED_PONGS: u16 = 4003;
pub const CLOSE_SUSPENDED: u16 = 4004;

#[derive(Debug, Deserialize)]
pub struct StreamParams {
    /// The access token, for clients that cannot set `Authorization` (browsers).
    pub access_token: Option<String>,
    /// The id of the last event received: the events after it are sent first.
    pub since: Option<Uuid>,
}

#[derive(Serialize)]
struct Frame<T: Serialize> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'static str,
    data: T,
}

/// The token from `Authorization`, `?access_token=`, or a `bearer.<token>` subprotocol.
fn access_token<'a>(headers: &'a HeaderMap, params: &'a StreamParams) -> Option<&'a str> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(token) = header(header::AUTHORIZATION).and_then(bearer_token) {
        return Some(token);
    }
    if let Some(token) = params.access_token.as_deref() {
        return Some(token);
    }
    header(header::SEC_WEBSOCKET_PROTOCOL)?
        .split(',')
        .find_map(|p| p.trim().strip_prefix(TOKEN_PROTOCOL_PREFIX))
}

/// The real-time stream of your notifications, messages and read receipts: 401 before any
/// upgrade without a valid token, 426 for a request that is no WebSocket handshake.
async fn stream(
    State(state): State<AppState>,
    Query(params): Query<StreamParams>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let token = access_token(&headers, &params).ok_or_else(ApiError::unauthorized)?;
    let (caller, expires) = state.app.authenticate_until(token)?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "validation_failed",
            rejection.body_text(),
        )
    })?;
    let ping_every = state.http.ws_ping_interval;
    // Small buffers (tungstenite's default is 128 KiB each way): an idle socket costs little,
    // and what a client may send at once is bounded; events are small.
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(64 * 1024)
        .max_frame_size(16 * 1024)
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| async move {
            run(socket, state, caller, expires, params.since, ping_every).await;
        }))
}

/// Ids seen lately, oldest forgotten first.
#[derive(Default)]
struct RecentIds {
    order: VecDeque<Uuid>,
    seen: HashSet<Uuid>,
}

impl RecentIds {
    /// False when `id` was seen already.
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

enum Ending {
    Closed,
    Code(u16, &'static str),
}

async fn run(
    socket: WebSocket,
    state: AppState,
    caller: Principal,
    expires: OffsetDateTime,
    since: Option<Uuid>,
    ping_every: Duration,
) {
    // Subscribed before the replay is read, so nothing falls between the two.
    let mut subscription = state.app.events.hub().subscribe(caller.user_id);
    // A suspension that came between the handshake's check and the subscription found no
    // socket to close: this one checks again now that it is subscribed.
    let suspended = state
        .app
        .suspensions
        .until(caller.user_id, OffsetDateTime::now_utc())
        .is_some();
    let (mut sink, mut incoming) = socket.split();
    let mut recent = RecentIds::default();
    let ending = async {
        if suspended {
            return Ending::Code(CLOSE_SUSPENDED, "account suspended");
        }
        if let Some(since) = since {
            let missed = state
                .app
                .missed_events(caller.user_id, since)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "reading missed events failed");
                    Vec::new()
                });
            for event in missed {
                recent.insert(event.id);
                if !send_event(&mut sink, &state, caller, &event).await {
                    return Ending::Closed;
                }
            }
        }
        let until_expiry = (expires - OffsetDateTime::now_utc()).max(time::Duration::ZERO);
        let expiry = tokio::time::sleep(until_expiry.unsigned_abs());
        tokio::pin!(expiry);
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut unanswered = 0u32;
        loop {
            tokio::select! {
                biased;
                () = subscription.evicted.notified() => {
                    return Ending::Code(CLOSE_TOO_SLOW, "too many events waiting; reconnect with ?since=");
                }
                () = &mut expiry => return Ending::Code(CLOSE_TOKEN_EXPIRED, "access token expired"),
                frame = incoming.next() => match frame {
                    Some(Ok(Message::Pong(_))) => unanswered = 0,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return Ending::Closed,
                    Some(Ok(_)) => {}
                },
                event = subscription.events.recv() => match event {
                    Some(event) => {
                        if recent.insert(event.id) && !send_event(&mut sink, &state, caller, &event).await {
                            return Ending::Closed;
                        }
                    }
                    // The hub let the socket go: its account was suspended.
                    None if state.app.suspensions.until(caller.user_id, OffsetDateTime::now_utc()).is_some() => {
                        return Ending::Code(CLOSE_SUSPENDED, "account suspended");
                    }
                    None => return Ending::Closed,
                },
                _ = ping.tick() => {
                    if unanswered >= 2 {
                        return Ending::Code(CLOSE_MISSED_PONGS, "two pings went unanswered");
                    }
                    unanswered += 1;
                    if !send(&mut sink, Message::Ping(Default::default())).await {
                        return Ending::Closed;
                    }
                }
            }
        }
    }
    .await;
    if let Ending::Code(code, reason) = ending {
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        if send(&mut sink, close).await {
            // The client answers with its own close frame; until then it may still be writing
            // (a pong, say), which must not fail before it has read why it is being closed.
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                while let Some(Ok(frame)) = incoming.next().await {
                    if matches!(frame, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;

/// Sends one frame; false when the connection is gone or the client stopped reading.
async fn send(sink: &mut Sink, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await,
        Ok(Ok(()))
    )
}

async fn send_event(sink: &mut Sink, state: &AppState, caller: Principal, event: &Event) -> bool {
    match render(state, caller, event).await {
        Ok(Some(text)) => send(sink, Message::Text(text.into())).await,
        // Gone since (an actor deleted, say): nothing to tell.
        Ok(None) => true,
        Err(err) => {
            tracing::warn!(error = ?err, "rendering an event failed");
            true
        }
    }
}

/// The event as the client reads it: `{id, type, data}`, `data` as the REST API shows it.
async fn render(
    state: &AppState,
    caller: Principal,
    event: &Event,
) -> Result<Option<String>, ApiError> {
    let kind = event.data.name();
    let json = match &event.data {
        EventData::NotificationCreated(notification) => {
            let views = state
                .app
                .notification_views(caller.user_id, vec![notification.clone()])
                .await?;
            let Some(body) = notification_responses(state, views).await?.pop() else {
                return Ok(None);
            };
            serde_json::to_string(&Frame {
                id: event.id,
                kind,
                data: body,
            })
        }
        EventData::MessageCreated(message) => {
            let views = state.app.message_views(vec![message.clone()]).await?;
            let Some(body) = message_responses(state, views).await?.pop() else {
                return Ok(None);
            };
            serde_json::to_string(&Frame {
                id: event.id,
                kind,
                data: body,
            })
        }
        EventData::ConversationRead(receipt) => serde_json::to_string(&Frame {
            id: event.id,
            kind,
            data: ReadReceiptResponse::from(receipt.clone()),
        }),
    };
    json.map(Some)
        .map_err(|err| ApiError::from(picshare_app::AppError::internal(err)))
}
