//! Data export: everything an account owns and did, as one ZIP archive streamed while it is
//! read a page at a time: `account.json` and the original photos under `media/` (docs/api.md,
//! "Exporting your data").

mod archive;

use futures::StreamExt;
use picshare_domain::{MediaStatus, User, UserId, UserLookup};
use picshare_objects::{ObjectError, original_key};
use picshare_store::PageRequest;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

pub use archive::ArchiveBytes;
use archive::{ArchiveWriter, Stopped, archive};

use crate::auth::Principal;
use crate::{App, AppError, AppResult};

/// What `account.json`'s `format` says: bumped when its shape changes incompatibly.
pub const EXPORT_FORMAT: &str = "picshare-export/1";
/// Rows read per query.
const PAGE: u32 = 100;

fn stamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn stamp_or_null(at: Option<OffsetDateTime>) -> Value {
    at.map_or(Value::Null, |at| Value::String(stamp(at)))
}

/// Why an export ended early.
enum Broken {
    Stopped,
    Failed(AppError),
}

impl From<Stopped> for Broken {
    fn from(_: Stopped) -> Self {
        Broken::Stopped
    }
}

impl<E: Into<AppError>> From<E> for Broken {
    fn from(err: E) -> Self {
        Broken::Failed(err.into())
    }
}

/// The file name of a media item's original in the archive.
fn media_file(id: Uuid, content_type: &str) -> String {
    let extension = match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => "bin",
    };
    format!("media/{id}.{extension}")
}

impl App {
    /// The caller's own data as a ZIP archive, written while the body is sent.
    pub async fn export_account(
        &self,
        caller: Principal,
        target: &UserLookup,
    ) -> AppResult<ArchiveBytes> {
        let user = self.find_user(target).await?;
        if user.id != caller.user_id {
            return Err(AppError::Forbidden("you can only export your own account"));
        }
        let trust_level = self.trust_level(user.id).await?;
        let (writer, body) = archive();
        let app = self.clone();
        tokio::spawn(async move {
            match app.write_export(&user, trust_level.as_str(), writer).await {
                Ok(()) => metrics::counter!("picshare_exports_total").increment(1),
                Err(Broken::Stopped) => {}
                Err(Broken::Failed(err)) => tracing::warn!(error = %err, "a data export failed"),
            }
        });
        Ok(body)
    }

    async fn write_export(
        &self,
        user: &User,
        trust_level: &str,
        mut out: ArchiveWriter,
    ) -> Result<(), Broken> {
        out.entry("account.json".into(), true).await?;
        out.text(&format!(
            "{{\"format\":\"{EXPORT_FORMAT}\",\"exported_at\":\"{}\",\"account\":",
            stamp(OffsetDateTime::now_utc())
        ))
        .await?;
        out.value(&json!({
            "id": user.id.0, "handle": user.handle, "email": user.email,
            "display_name": user.display_name, "bio": user.bio,
            "avatar_media_id": user.avatar_media_id, "is_private": user.is_private,
            "role": user.role.as_str(), "trust_level": trust_level,
            "followers_count": user.followers_count, "following_count": user.following_count,
            "posts_count": user.posts_count, "created_at": stamp(user.created_at),
        }))
        .await?;
        self.export_posts(user.id, &mut out).await?;
        self.export_activity(user.id, &mut out).await?;
        self.export_graph(user.id, &mut out).await?;
        self.export_messages(user.id, &mut out).await?;
        self.export_account_records(user.id, &mut out).await?;
        let photos = self.export_media_list(user.id, &mut out).await?;
        out.text("}").await?;
        if photos > 0 {
            self.export_photos(user.id, &mut out).await?;
        }
        out.finish().await?;
        Ok(())
    }

    async fn export_posts(&self, user: UserId, out: &mut ArchiveWriter) -> Result<(), Broken> {
        out.begin_array("posts").await?;
        let mut after = None;
        loop {
            let page = PageRequest { after, limit: PAGE };
            let posts = self.store.user_posts(user, true, true, page).await?;
            for post in &posts.items {
                let media: Vec<Value> = post
                    .media
                    .iter()
                    .map(|m| json!({"id": m.id, "file": media_file(m.id, &m.content_type)}))
                    .collect();
                out.item(&json!({
                    "id": post.id, "caption": post.caption,
                    "visibility": post.visibility.as_str(), "hashtags": post.hashtags,
                    "location": post.location.as_ref().map(|l| json!({
                        "name": l.name, "lat": l.lat, "lon": l.lon,
                    })),
                    "media": media, "like_count": post.like_count,
                    "comment_count": post.comment_count,
                    "taken_down": post.taken_down.is_some(),
                    "created_at": stamp(post.created_at),
                    "edited_at": stamp_or_null(post.edited_at),
                }))
                .await?;
            }
            match posts.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        out.end_array().await?;
        Ok(())
    }

    /// Comments written and likes given.
    async fn export_activity(&self, user: UserId, out: &mut ArchiveWriter) -> Result<(), Broken> {
        out.begin_array("comments").await?;
        let mut after = Uuid::nil();
        loop {
            let comments = self.store.comments_by_author(user, after, PAGE).await?;
            let Some(last) = comments.last() else { break };
            after = last.id;
            for comment in &comments {
                out.item(&json!({
                    "id": comment.id, "post_id": comment.post_id, "text": comment.text,
                    "created_at": stamp(comment.created_at),
                }))
                .await?;
            }
        }
        out.end_array().await?;
        out.begin_array("likes").await?;
        let mut after = Uuid::nil();
        loop {
            let likes = self.store.likes_given(user, after, PAGE).await?;
            let Some((last, _)) = likes.last() else { break };
            after = *last;
            for (post, at) in &likes {
                out.item(&json!({"post_id": post, "created_at": stamp(*at)}))
                    .await?;
            }
        }
        out.end_array().await?;
        Ok(())
    }

    /// Followers, following and blocks: the other accounts by id and handle.
    async fn export_graph(&self, user: UserId, out: &mut ArchiveWriter) -> Result<(), Broken> {
        for followers in [true, false] {
            out.begin_array(if followers { "followers" } else { "following" })
                .await?;
            let mut after = None;
            loop {
                let page = PageRequest { after, limit: PAGE };
                let users = match followers {
                    true => self.store.followers(user, None, page).await?,
                    false => self.store.following(user, None, page).await?,
                };
                for other in &users.items {
                    out.item(&json!({"id": other.id.0, "handle": other.handle}))
                        .await?;
                }
                match users.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            out.end_array().await?;
        }
        out.begin_array("blocks").await?;
        let mut after = Uuid::nil();
        loop {
            let blocks = self.store.blocks_made(user, after, PAGE).await?;
            let Some((last, _)) = blocks.last() else {
                break;
            };
            after = last.0;
            for (blocked, at) in &blocks {
                out.item(&json!({"user_id": blocked.0, "created_at": stamp(*at)}))
                    .await?;
            }
        }
        out.end_array().await?;
        Ok(())
    }

    /// Conversations, then every message of each (everyone's: the account took part).
    async fn export_messages(&self, user: UserId, out: &mut ArchiveWriter) -> Result<(), Broken> {
        for messages in [false, true] {
            out.begin_array(if messages {
                "messages"
            } else {
                "conversations"
            })
            .await?;
            let mut after = None;
            loop {
                let page = PageRequest { after, limit: PAGE };
                let conversations = self.store.conversations(user, page).await?;
                for conversation in &conversations.items {
                    if messages {
                        self.export_conversation(conversation.id, out).await?;
                        continue;
                    }
                    let participants: Vec<Uuid> =
                        conversation.participant_ids.iter().map(|id| id.0).collect();
                    out.item(&json!({
                        "id": conversation.id, "is_direct": conversation.is_direct,
                        "participant_ids": participants,
                        "created_at": stamp(conversation.created_at),
                    }))
                    .await?;
                }
                match conversations.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            out.end_array().await?;
        }
        Ok(())
    }

    async fn export_conversation(
        &self,
        conversation: Uuid,
        out: &mut ArchiveWriter,
    ) -> Result<(), Broken> {
        let mut after = None;
        loop {
            let page = PageRequest { after, limit: PAGE };
            let messages = self.store.messages(conversation, page).await?;
            for message in &messages.items {
                out.item(&json!({
                    "id": message.id, "conversation_id": conversation,
                    "sender_id": message.sender_id.map(|id| id.0), "text": message.text,
                    "created_at": stamp(message.created_at),
                }))
                .await?;
            }
            match messages.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(())
    }

    /// Notifications received, sessions and devices (without secrets).
    async fn export_account_records(
        &self,
        user: UserId,
        out: &mut ArchiveWriter,
    ) -> Result<(), Broken> {
        out.begin_array("notifications").await?;
        let mut after = None;
        loop {
            let page = PageRequest { after, limit: PAGE };
            let notifications = self.store.notifications(user, false, page).await?;
            for n in &notifications.items {
                out.item(&json!({
                    "id": n.id, "kind": n.kind.as_str(), "actor_id": n.actor_id.0,
                    "post_id": n.post_id, "comment_id": n.comment_id,
                    "conversation_id": n.conversation_id, "message_id": n.message_id,
                    "read_at": stamp_or_null(n.read_at), "created_at": stamp(n.created_at),
                }))
                .await?;
            }
            match notifications.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        out.end_array().await?;
        out.begin_array("sessions").await?;
        let mut after = Uuid::nil();
        loop {
            let sessions = self.store.sessions(user, after, PAGE).await?;
            let Some(last) = sessions.last() else { break };
            after = last.family_id;
            for session in &sessions {
                out.item(&json!({
                    "id": session.family_id, "started_at": stamp(session.started_at),
                    "expires_at": stamp(session.expires_at),
                    "revoked_at": stamp_or_null(session.revoked_at),
                }))
                .await?;
            }
        }
        out.end_array().await?;
        out.begin_array("devices").await?;
        let mut after = None;
        loop {
            let page = PageRequest { after, limit: PAGE };
            let devices = self.store.devices(user, page).await?;
            for device in &devices.items {
                out.item(&json!({
                    "id": device.id, "first_seen_at": stamp(device.first_seen_at),
                    "last_seen_at": stamp(device.last_seen_at),
                }))
                .await?;
            }
            match devices.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        out.end_array().await?;
        Ok(())
    }

    /// Every media item the account owns; returns how many have an original in the archive.
    async fn export_media_list(
        &self,
        user: UserId,
        out: &mut ArchiveWriter,
    ) -> Result<u64, Broken> {
        out.begin_array("media").await?;
        let mut photos = 0;
        let mut after = Uuid::nil();
        loop {
            let media = self.store.owned_media(user, after, PAGE).await?;
            let Some(last) = media.last() else { break };
            after = last.id;
            for m in &media {
                let ready = m.status == MediaStatus::Ready;
                photos += u64::from(ready);
                out.item(&json!({
                    "id": m.id, "purpose": m.purpose.as_str(), "status": m.status.as_str(),
                    "content_type": m.content_type, "width": m.width, "height": m.height,
                    "file": ready.then(|| media_file(m.id, &m.content_type)),
                    "created_at": stamp(m.created_at),
                }))
                .await?;
            }
        }
        out.end_array().await?;
        Ok(photos)
    }

    /// The originals of the account's ready media, one at a time.
    async fn export_photos(&self, user: UserId, out: &mut ArchiveWriter) -> Result<(), Broken> {
        let mut after = Uuid::nil();
        loop {
            let media = self.store.owned_media(user, after, PAGE).await?;
            let Some(last) = media.last() else { break };
            after = last.id;
            for m in media.iter().filter(|m| m.status == MediaStatus::Ready) {
                let key = original_key(&m.id.to_string());
                // A piece at a time: an original may be as large as an upload may be.
                let mut pieces = match self.objects.get_stream(&key).await {
                    Ok(pieces) => pieces,
                    // Listed with its file, but gone from storage: the orphans job reports it.
                    Err(ObjectError::NotFound) => continue,
                    Err(err) => return Err(err.into()),
                };
                out.entry(media_file(m.id, &m.content_type), false).await?;
                while let Some(piece) = pieces.next().await {
                    out.write(&piece?).await?;
                }
            }
        }
        Ok(())
    }
}
