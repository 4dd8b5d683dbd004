//! Direct messages: conversations of 2–32 participants and their messages.

use async_trait::async_trait;
use picshare_domain::{Conversation, Message, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{NewJob, Page, PageRequest, StoreResult};

#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: Uuid,
    /// `messaging::direct_key` of a 1:1's pair; `None` for a group.
    pub direct_key: Option<String>,
    /// Everyone in it, the creator included.
    pub participant_ids: Vec<UserId>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: UserId,
    pub text: String,
    pub client_message_id: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent(Message),
    /// The sender used this `client_message_id` before: the first message, nothing new.
    Repeated(Message),
    /// The sender used this `client_message_id` for a message in another conversation.
    KeyInUse,
    /// The sender is not a participant (or the conversation does not exist).
    NotParticipant,
}

#[async_trait]
pub trait ConversationStore {
    /// Creates the conversation; for a 1:1 whose pair has one already (also when two requests
    /// race), returns that one instead. The id, and whether it is new.
    async fn create_conversation(
        &self,
        conversation: &NewConversation,
    ) -> StoreResult<(Uuid, bool)>;

    /// The conversation as `viewer` sees it; `None` unless they take part.
    async fn find_conversation(
        &self,
        id: Uuid,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>>;

    /// The viewer's conversations, newest activity first.
    async fn conversations(
        &self,
        viewer: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<Conversation>>;

    /// Messages of a conversation, newest first.
    async fn messages(&self, conversation: Uuid, page: PageRequest) -> StoreResult<Page<Message>>;

    /// Stores the message, moves the conversation's activity, counts it unread for the other
    /// participants and enqueues `notify`, in one transaction.
    async fn send_message(&self, message: &NewMessage, notify: &NewJob)
    -> StoreResult<SendOutcome>;

    /// The reader has read everything in the conversation (its message notifications too);
    /// false when they do not take part.
    async fn mark_conversation_read(
        &self,
        conversation: Uuid,
        reader: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;

    async fn find_message(&self, id: Uuid) -> StoreResult<Option<Message>>;

    /// Whether the sender used this `client_message_id` before, in any conversation.
    async fn message_sent_before(
        &self,
        sender: UserId,
        client_message_id: &str,
    ) -> StoreResult<bool>;

    /// Everyone taking part in the conversation.
    async fn participants(&self, conversation: Uuid) -> StoreResult<Vec<UserId>>;

    /// Messages in the user's conversations made after `since` (an event id), oldest first.
    async fn messages_since(
        &self,
        user: UserId,
        since: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
}
