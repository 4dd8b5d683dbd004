//! Direct messages: conversations of 2–32 people, idempotent sends, read receipts, and the
//! events that carry them to every participant's sockets at once.

use picshare_domain::messaging::{
    self, MAX_CONVERSATION_PARTICIPANTS, parse_client_message_id, parse_message_text,
};
use picshare_domain::{Action, Conversation, Message, User, UserId, ValidationErrors};
use picshare_store::{NewConversation, NewMessage, Page, PageRequest, SendOutcome};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::events::{Event, EventData, ReadReceipt};
use crate::jobs::{NotifyJob, notify_job};
use crate::{App, AppError, AppResult};

/// Events a reconnecting socket is sent at most before live ones (older ones are in the lists).
pub const MAX_REPLAYED_EVENTS: u32 = 500;

#[derive(Debug, Clone)]
pub struct ConversationView {
    pub conversation: Conversation,
    /// Every participant that still has an account, the viewer included.
    pub participants: Vec<User>,
}

#[derive(Debug, Clone)]
pub struct MessageView {
    pub message: Message,
    /// `None` once the sender deleted their account.
    pub sender: Option<User>,
}

const NOT_MESSAGEABLE: &str = "must list 1 to 31 different users other than you, each one you can message \
     (an existing account, and no block between you)";

impl App {
    /// Starts a conversation with `participant_ids`; a 1:1 that exists already is returned
    /// instead (also when two requests race). The view, and whether it is new.
    pub async fn start_conversation(
        &self,
        caller: Principal,
        participant_ids: &[Uuid],
    ) -> AppResult<(ConversationView, bool)> {
        let mut others: Vec<UserId> = participant_ids.iter().copied().map(UserId).collect();
        others.sort();
        others.dedup();
        let valid = !others.is_empty()
            && others.len() == participant_ids.len()
            && others.len() < MAX_CONVERSATION_PARTICIPANTS
            && !others.contains(&caller.user_id);
        if !valid {
            return Err(ValidationErrors::single("participant_ids", NOT_MESSAGEABLE).into());
        }
        let found = self.store.find_users(&others).await?;
        if found.len() != others.len() {
            return Err(ValidationErrors::single("participant_ids", NOT_MESSAGEABLE).into());
        }
        for other in &others {
            let relationship = self.store.relationship(caller.user_id, *other).await?;
            if relationship.is_blocked_either_way() {
                return Err(ValidationErrors::single("participant_ids", NOT_MESSAGEABLE).into());
            }
        }
        let direct_key = match others.as_slice() {
            [other] => Some(messaging::direct_key(caller.user_id, *other)),
            _ => None,
        };
        let spent = self.spend_quota(caller.user_id, Action::Message).await?;
        let mut everyone = others;
        everyone.push(caller.user_id);
        let opened = self
            .store
            .create_conversation(&NewConversation {
                id: Uuid::now_v7(),
                direct_key,
                participant_ids: everyone,
                created_at: OffsetDateTime::now_utc(),
            })
            .await
            .map_err(From::from);
        // Reopening an existing 1:1 conversation writes nothing.
        self.keep_if(spent, &opened, |(_, created)| *created).await;
        let (id, created) = opened?;
        Ok((self.conversation(caller, id).await?, created))
    }

    /// A conversation the caller takes part in; any other is not found.
    pub async fn conversation(&self, caller: Principal, id: Uuid) -> AppResult<ConversationView> {
        let conversation = self
            .store
            .find_conversation(id, caller.user_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(self.conversation_views(vec![conversation]).await?.remove(0))
    }

    pub async fn conversations(
        &self,
        caller: Principal,
        page: PageRequest,
    ) -> AppResult<Page<ConversationView>> {
        let page = self.store.conversations(caller.user_id, page).await?;
        Ok(Page {
            items: self.conversation_views(page.items).await?,
            next: page.next,
        })
    }

    /// Conversations with their participants, all read in one query.
    async fn conversation_views(
        &self,
        conversations: Vec<Conversation>,
    ) -> AppResult<Vec<ConversationView>> {
        let ids: Vec<UserId> = conversations
            .iter()
            .flat_map(|c| c.participant_ids.iter().copied())
            .collect();
        let users = self.users_by_id(&ids).await?;
        Ok(conversations
            .into_iter()
            .map(|conversation| ConversationView {
                participants: conversation
                    .participant_ids
                    .iter()
                    .filter_map(|id| users.get(id).cloned())
                    .collect(),
                conversation,
            })
            .collect())
    }

    /// Messages with their senders, all read in one query.
    pub async fn message_views(&self, messages: Vec<Message>) -> AppResult<Vec<MessageView>> {
        let ids: Vec<UserId> = messages.iter().filter_map(|m| m.sender_id).collect();
        let users = self.users_by_id(&ids).await?;
        Ok(messages
            .into_iter()
            .map(|message| MessageView {
                sender: message.sender_id.and_then(|id| users.get(&id).cloned()),
                message,
            })
            .collect())
    }

    /// Everyone in a conversation the caller takes part in; any other is not found.
    async fn participants_of(
        &self,
        caller: Principal,
        conversation: Uuid,
    ) -> AppResult<Vec<UserId>> {
        let participants = self.store.participants(conversation).await?;
        if participants.contains(&caller.user_id) {
            Ok(participants)
        } else {
            Err(AppError::NotFound)
        }
    }

    /// A conversation's messages, newest first; only for its participants.
    pub async fn messages(
        &self,
        caller: Principal,
        conversation: Uuid,
        page: PageRequest,
    ) -> AppResult<Page<MessageView>> {
        self.participants_of(caller, conversation).await?;
        let page = self.store.messages(conversation, page).await?;
        Ok(Page {
            items: self.message_views(page.items).await?,
            next: page.next,
        })
    }

    /// Sends a message; a `client_message_id` the caller used before returns the first message
    /// and sends nothing. The view, and whether it is new.
    pub async fn send_message(
        &self,
        caller: Principal,
        conversation: Uuid,
        text: &str,
        client_message_id: &str,
    ) -> AppResult<(MessageView, bool)> {
        let mut errors = ValidationErrors::default();
        let text = errors.check("text", parse_message_text(text));
        let client_message_id = errors.check(
            "client_message_id",
            parse_client_message_id(client_message_id),
        );
        let (Some(text), Some(client_message_id)) = (text, client_message_id) else {
            return Err(errors.into());
        };
        let participants = self.participants_of(caller, conversation).await?;
        // Two people make a 1:1 (a group has at least three): no message across a block.
        if let [a, b] = participants[..] {
            let other = if a == caller.user_id { b } else { a };
            if self
                .store
                .relationship(caller.user_id, other)
                .await?
                .is_blocked_either_way()
            {
                return Err(AppError::Forbidden("you cannot message this user"));
            }
        }
        // A retry of a message sent already spends nothing (the store answers it below), even
        // when the quota is used up; one racing the first attempt gives its unit back.
        let spent = if self
            .store
            .message_sent_before(caller.user_id, &client_message_id)
            .await?
        {
            None
        } else {
            Some(self.spend_quota(caller.user_id, Action::Message).await?)
        };
        let message = NewMessage {
            id: Uuid::now_v7(),
            conversation_id: conversation,
            sender_id: caller.user_id,
            text,
            client_message_id,
            created_at: OffsetDateTime::now_utc(),
        };
        let notify = notify_job(NotifyJob::Message {
            message: message.id,
        })?;
        let sent = self
            .store
            .send_message(&message, &notify)
            .await
            .map_err(From::from);
        if let Some(spent) = spent {
            let done = |outcome: &SendOutcome| matches!(outcome, SendOutcome::Sent(_));
            self.keep_if(spent, &sent, done).await;
        }
        let (message, created) = match sent? {
            SendOutcome::Sent(message) => (message, true),
            SendOutcome::Repeated(message) => (message, false),
            SendOutcome::KeyInUse => {
                return Err(AppError::Conflict {
                    field: "client_message_id",
                });
            }
            SendOutcome::NotParticipant => return Err(AppError::NotFound),
        };
        if created {
            self.wake_workers().await;
            let event = Event {
                id: message.id,
                data: EventData::MessageCreated(message.clone()),
            };
            self.events.publish(&participants, event).await;
        }
        let sender = self
            .users_by_id(&[caller.user_id])
            .await?
            .remove(&caller.user_id);
        Ok((MessageView { message, sender }, created))
    }

    /// The caller has read the conversation; the other participants hear of it at once.
    pub async fn mark_conversation_read(
        &self,
        caller: Principal,
        conversation: Uuid,
    ) -> AppResult<ReadReceipt> {
        let read_at = OffsetDateTime::now_utc();
        let participants = self.participants_of(caller, conversation).await?;
        if !self
            .store
            .mark_conversation_read(conversation, caller.user_id, read_at)
            .await?
        {
            return Err(AppError::NotFound);
        }
        let receipt = ReadReceipt {
            conversation_id: conversation,
            reader_id: caller.user_id,
            read_at,
        };
        let others: Vec<UserId> = participants
            .into_iter()
            .filter(|user| *user != caller.user_id)
            .collect();
        let event = Event {
            id: Uuid::now_v7(),
            data: EventData::ConversationRead(receipt.clone()),
        };
        self.events.publish(&others, event).await;
        Ok(receipt)
    }

    /// What a socket that reconnects after event `since` missed: stored notifications and
    /// messages, oldest first, at most `MAX_REPLAYED_EVENTS` (a client away longer reloads its
    /// lists).
    pub async fn missed_events(&self, user: UserId, since: Uuid) -> AppResult<Vec<Event>> {
        let limit = MAX_REPLAYED_EVENTS;
        let notifications = self.store.notifications_since(user, since, limit).await?;
        let messages = self.store.messages_since(user, since, limit).await?;
        let mut events: Vec<Event> = notifications
            .into_iter()
            .map(|n| Event {
                id: n.id,
                data: EventData::NotificationCreated(n),
            })
            .chain(messages.into_iter().map(|m| Event {
                id: m.id,
                data: EventData::MessageCreated(m),
            }))
            .collect();
        events.sort_by_key(|event| event.id);
        events.truncate(limit as usize);
        Ok(events)
    }
}
