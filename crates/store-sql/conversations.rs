//! Direct messages. A message, its conversation's activity and its participants' unread
//! counts are written in one transaction; a 1:1's `direct_key` is unique, so racing creations
//! end in one conversation.

use std::collections::HashMap;

use async_trait::async_trait;
use picshare_domain::{Conversation, Message, UserId};
use picshare_store::{
    ConversationStore, NewConversation, NewJob, NewMessage, Page, PageRequest, SendOutcome,
    StoreResult,
};
use sqlx::{FromRow, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::id_lists::in_ids;
use super::jobs::insert_job;
use super::pages::page_rows;
use crate::dialect::{Db, GREATEST, Timestamp, from_ts, ts};
use crate::{SqlStore, db_err};

const MESSAGE_COLUMNS: &str = "id, conversation_id, sender_id, text, client_message_id, created_at";

/// A conversation from one member's row: `$1` is the member.
const CONVERSATION_SELECT: &str = "SELECT c.id, c.direct_key IS NOT NULL AS is_direct,
        c.created_at, c.updated_at, m.unread_count, m.activity_id
     FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id";

#[derive(FromRow)]
struct MessageRow {
    id: Uuid,
    conversation_id: Uuid,
    sender_id: Option<Uuid>,
    text: String,
    client_message_id: String,
    created_at: Timestamp,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            conversation_id: row.conversation_id,
            sender_id: row.sender_id.map(UserId),
            text: row.text,
            client_message_id: row.client_message_id,
            created_at: from_ts(row.created_at),
        }
    }
}

#[derive(FromRow)]
struct ConversationRow {
    id: Uuid,
    is_direct: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
    unread_count: i64,
    activity_id: Uuid,
}

async fn existing_direct(
    tx: &mut Transaction<'_, Db>,
    direct_key: &str,
) -> StoreResult<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = $1")
        .bind(direct_key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)
}

impl SqlStore {
    /// Conversations from their members' rows, with every participant and last message read in
    /// one query each.
    async fn complete(&self, rows: Vec<ConversationRow>) -> StoreResult<Vec<Conversation>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::new(
            "SELECT conversation_id, user_id FROM conversation_members WHERE conversation_id",
        );
        in_ids(&mut query, rows.iter().map(|row| row.id));
        query.push(" ORDER BY conversation_id, user_id");
        let members: Vec<(Uuid, Uuid)> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut participants: HashMap<Uuid, Vec<UserId>> = HashMap::new();
        for (conversation, user) in members {
            participants
                .entry(conversation)
                .or_default()
                .push(UserId(user));
        }
        let mut query =
            sqlx::QueryBuilder::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id"));
        in_ids(&mut query, rows.iter().map(|row| row.activity_id));
        let last: HashMap<Uuid, Message> = query
            .build_query_as::<MessageRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|row| (row.conversation_id, Message::from(row)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|row| Conversation {
                id: row.id,
                is_direct: row.is_direct,
                participant_ids: participants.remove(&row.id).unwrap_or_default(),
                last_message: last.get(&row.id).cloned(),
                unread_count: row.unread_count,
                created_at: from_ts(row.created_at),
                updated_at: from_ts(row.updated_at),
            })
            .collect())
    }
}

#[async_trait]
impl ConversationStore for SqlStore {
    async fn create_conversation(&self, new: &NewConversation) -> StoreResult<(Uuid, bool)> {
        let mut tx = self.write_tx().await?;
        if let Some(key) = &new.direct_key
            && let Some(id) = existing_direct(&mut tx, key).await?
        {
            return Ok((id, false));
        }
        let at = ts(new.created_at);
        let inserted = sqlx::query(
            "INSERT INTO conversations (id, direct_key, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (direct_key) DO NOTHING",
        )
        .bind(new.id)
        .bind(&new.direct_key)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 0 {
            // Another request made the pair's conversation first.
            let key = new.direct_key.as_deref().unwrap_or_default();
            let id = existing_direct(&mut tx, key).await?;
            return Ok((id.unwrap_or(new.id), false));
        }
        for user in &new.participant_ids {
            sqlx::query(
                "INSERT INTO conversation_members (conversation_id, user_id, activity_id)
                 VALUES ($1, $2, $1) ON CONFLICT DO NOTHING",
            )
            .bind(new.id)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok((new.id, true))
    }

    async fn find_conversation(
        &self,
        id: Uuid,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>> {
        let row: Option<ConversationRow> = sqlx::query_as(&format!(
            "{CONVERSATION_SELECT} WHERE m.user_id = $1 AND m.conversation_id = $2"
        ))
        .bind(viewer.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(self.complete(row.into_iter().collect()).await?.pop())
    }

    async fn conversations(
        &self,
        viewer: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let sql = format!(
            "{CONVERSATION_SELECT} WHERE m.user_id = $1 AND m.activity_id < $2
             ORDER BY m.activity_id DESC LIMIT $3"
        );
        let rows: Vec<ConversationRow> = page_rows(&self.pool, &sql, viewer.0, page).await?;
        let keys: Vec<Uuid> = rows.iter().map(|row| row.activity_id).collect();
        let conversations = self.complete(rows).await?;
        Ok(Page::from_rows(
            keys.into_iter().zip(conversations).collect(),
            page.limit,
        ))
    }

    async fn messages(&self, conversation: Uuid, page: PageRequest) -> StoreResult<Page<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id < $2
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<MessageRow> = page_rows(&self.pool, &sql, conversation, page).await?;
        Ok(Page::from_rows(
            rows.into_iter().map(|row| (row.id, row.into())).collect(),
            page.limit,
        ))
    }

    async fn send_message(
        &self,
        message: &NewMessage,
        notify: &NewJob,
    ) -> StoreResult<SendOutcome> {
        let mut tx = self.write_tx().await?;
        let member: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(message.conversation_id)
        .bind(message.sender_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if member.is_none() {
            return Ok(SendOutcome::NotParticipant);
        }
        let inserted: Option<MessageRow> = sqlx::query_as(&format!(
            "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (sender_id, client_message_id) DO NOTHING
             RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(message.id)
        .bind(message.conversation_id)
        .bind(message.sender_id.0)
        .bind(&message.text)
        .bind(&message.client_message_id)
        .bind(ts(message.created_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(inserted) = inserted else {
            let first: Option<MessageRow> = sqlx::query_as(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_id = $1 AND client_message_id = $2"
            ))
            .bind(message.sender_id.0)
            .bind(&message.client_message_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            return Ok(match first {
                Some(first) if first.conversation_id == message.conversation_id => {
                    SendOutcome::Repeated(first.into())
                }
                _ => SendOutcome::KeyInUse,
            });
        };
        sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
            .bind(message.conversation_id)
            .bind(ts(message.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(&format!(
            "UPDATE conversation_members SET activity_id = {GREATEST}(activity_id, $2),
                    unread_count = unread_count + CASE WHEN user_id = $3 THEN 0 ELSE 1 END
             WHERE conversation_id = $1"
        ))
        .bind(message.conversation_id)
        .bind(message.id)
        .bind(message.sender_id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_job(&mut tx, notify).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(SendOutcome::Sent(inserted.into()))
    }

    async fn mark_conversation_read(
        &self,
        conversation: Uuid,
        reader: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let marked = sqlx::query(
            "UPDATE conversation_members SET unread_count = 0, last_read_at = $3
             WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation)
        .bind(reader.0)
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE notifications SET read_at = $3
             WHERE recipient_id = $2 AND conversation_id = $1 AND read_at IS NULL",
        )
        .bind(conversation)
        .bind(reader.0)
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn message_sent_before(
        &self,
        sender: UserId,
        client_message_id: &str,
    ) -> StoreResult<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (
                 SELECT 1 FROM messages WHERE sender_id = $1 AND client_message_id = $2)",
        )
        .bind(sender.0)
        .bind(client_message_id)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn find_message(&self, id: Uuid) -> StoreResult<Option<Message>> {
        let row: Option<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(Message::from))
    }

    async fn participants(&self, conversation: Uuid) -> StoreResult<Vec<UserId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM conversation_members WHERE conversation_id = $1 ORDER BY user_id",
        )
        .bind(conversation)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn messages_since(
        &self,
        user: UserId,
        since: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT m.id, m.conversation_id, m.sender_id, m.text, m.client_message_id, m.created_at
             FROM conversation_members cm JOIN messages m ON m.conversation_id = cm.conversation_id
             WHERE cm.user_id = $1 AND m.id > $2
             ORDER BY m.id LIMIT $3",
        )
        .bind(user.0)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }
}
