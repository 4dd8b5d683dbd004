//! Notifications and direct messages: what they are and what a message may hold.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use time::OffsetDateTime;
use uuid::Uuid;

use crate::UserId;

/// What a notification tells its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Follow,
    FollowRequest,
    Like,
    Comment,
    Mention,
    Message,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Follow => "follow",
            NotificationKind::FollowRequest => "follow_request",
            NotificationKind::Like => "like",
            NotificationKind::Comment => "comment",
            NotificationKind::Mention => "mention",
            NotificationKind::Message => "message",
        }
    }
}

impl FromStr for NotificationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "follow" => NotificationKind::Follow,
            "follow_request" => NotificationKind::FollowRequest,
            "like" => NotificationKind::Like,
            "comment" => NotificationKind::Comment,
            "mention" => NotificationKind::Mention,
            "message" => NotificationKind::Message,
            other => return Err(format!("unknown notification kind '{other}'")),
        })
    }
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Uuid,
    pub recipient_id: UserId,
    pub kind: NotificationKind,
    pub actor_id: UserId,
    pub post_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub read_at: Option<OffsetDateTime>,
}

/// Participants of one conversation, the caller included.
pub const MAX_CONVERSATION_PARTICIPANTS: usize = 32;
pub const MAX_MESSAGE_CHARS: usize = 2000;
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 64;
/// Mentions in one caption or comment that notify (the rest are kept as text only).
pub const MAX_NOTIFIED_MENTIONS: usize = 20;

pub fn parse_message_text(raw: &str) -> Result<String, String> {
    let text = crate::text::clean_text(raw, usize::MAX, true)?;
    if text.is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(format!("must be 1 to {MAX_MESSAGE_CHARS} characters long"));
    }
    Ok(text)
}

/// The sender's idempotency key: 1–64 printable ASCII characters.
pub fn parse_client_message_id(raw: &str) -> Result<String, String> {
    let valid = (1..=MAX_CLIENT_MESSAGE_ID_CHARS).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "must be 1 to {MAX_CLIENT_MESSAGE_ID_CHARS} printable ASCII characters without spaces"
        ))
    }
}

/// The key that makes a 1:1 conversation unique for its pair, whichever side starts it.
pub fn direct_key(a: UserId, b: UserId) -> String {
    let (low, high) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    format!("{}:{}", low.0, high.0)
}

/// A conversation as one participant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: Uuid,
    pub is_direct: bool,
    /// Every participant, the viewer included, in id order.
    pub participant_ids: Vec<UserId>,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// `None` once the sender's account is deleted.
    pub sender_id: Option<UserId>,
    pub text: String,
    pub client_message_id: String,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_direct_key_whoever_starts() {
        let (a, b) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        assert_eq!(direct_key(a, b), direct_key(b, a));
        assert_ne!(direct_key(a, b), direct_key(a, UserId(Uuid::now_v7())));
    }

    #[test]
    fn message_text_is_bounded_and_cleaned() {
        assert!(parse_message_text("").is_err());
        assert!(parse_message_text(&"x".repeat(2001)).is_err());
        assert_eq!(parse_message_text(" hi\u{200B} ").as_deref(), Ok("hi"));
        assert!(parse_message_text("a\u{0}b").is_err());
    }

    #[test]
    fn client_message_ids_are_short_printable_ascii() {
        assert!(parse_client_message_id("m-1").is_ok());
        assert!(parse_client_message_id("").is_err());
        assert!(parse_client_message_id("a b").is_err());
        assert!(parse_client_message_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn notification_kinds_round_trip() {
        for kind in [
            "follow",
            "follow_request",
            "like",
            "comment",
            "mention",
            "message",
        ] {
            assert_eq!(
                kind.parse::<NotificationKind>().map(|k| k.as_str()),
                Ok(kind)
            );
        }
    }
}
