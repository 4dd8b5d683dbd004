//! Notifications: the worker turns `notify` jobs into notifications and tells their recipients
//! at once; recipients list them and mark them read.

use std::collections::HashMap;

use picshare_domain::messaging::MAX_NOTIFIED_MENTIONS;
use picshare_domain::{
    Notification, NotificationKind, User, UserId, UserLookup, social, visible_to_anyone,
};
use picshare_store::{NewNotification, Page, PageRequest};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::events::{Event, EventData};
use crate::jobs::NotifyJob;
use crate::media_urls::ImageView;
use crate::{App, AppError, AppResult};

/// A notification as its recipient sees it.
#[derive(Debug, Clone)]
pub struct NotificationView {
    pub notification: Notification,
    pub actor: User,
    /// A small picture of the post it is about.
    pub post_thumb: Option<ImageView>,
}

fn notification(
    recipient: UserId,
    kind: NotificationKind,
    actor: UserId,
) -> picshare_store::NewNotification {
    NewNotification {
        id: Uuid::now_v7(),
        recipient_id: recipient,
        kind,
        actor_id: actor,
        post_id: None,
        comment_id: None,
        conversation_id: None,
        message_id: None,
        created_at: OffsetDateTime::now_utc(),
    }
}

impl App {
    pub async fn notifications(
        &self,
        caller: Principal,
        unread_only: bool,
        page: PageRequest,
    ) -> AppResult<Page<NotificationView>> {
        let page = self
            .store
            .notifications(caller.user_id, unread_only, page)
            .await?;
        Ok(Page {
            items: self.notification_views(caller.user_id, page.items).await?,
            next: page.next,
        })
    }

    /// Views of the viewer's notifications: actors, and the posts' authors and thumbs, in a fixed
    /// number of queries however many there are. A notification whose actor is gone is left out.
    pub async fn notification_views(
        &self,
        viewer: UserId,
        notifications: Vec<Notification>,
    ) -> AppResult<Vec<NotificationView>> {
        let post_ids: Vec<Uuid> = notifications.iter().filter_map(|n| n.post_id).collect();
        let posts = self.store.find_posts(&post_ids).await?;
        let mut user_ids: Vec<UserId> = notifications.iter().map(|n| n.actor_id).collect();
        user_ids.extend(posts.iter().map(|p| p.author_id));
        let users: HashMap<UserId, User> = self.users_by_id(&user_ids).await?;
        let mut thumbs = HashMap::new();
        for post in &posts {
            let Some(author) = users.get(&post.author_id) else {
                continue;
            };
            // Only a post the viewer may still see shows its picture.
            let public = visible_to_anyone(post.author_id, author.is_private, post.visibility)
                && post.taken_down.is_none();
            if post.author_id != viewer && !public {
                continue;
            }
            let variant = post
                .media
                .first()
                .and_then(|m| m.variants.iter().find(|v| v.name == "thumb"));
            if let Some(variant) = variant {
                thumbs.insert(post.id, self.image_view(variant, public).await?);
            }
        }
        Ok(notifications
            .into_iter()
            .filter_map(|notification| {
                let actor = users.get(&notification.actor_id)?.clone();
                let post_thumb = notification.post_id.and_then(|id| thumbs.get(&id).cloned());
                Some(NotificationView {
                    notification,
                    actor,
                    post_thumb,
                })
            })
            .collect())
    }

    pub async fn mark_notification_read(&self, caller: Principal, id: Uuid) -> AppResult<()> {
        let now = OffsetDateTime::now_utc();
        if self
            .store
            .mark_notification_read(caller.user_id, id, now)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn mark_all_notifications_read(&self, caller: Principal) -> AppResult<u64> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .store
            .mark_all_notifications_read(caller.user_id, now)
            .await?)
    }

    pub async fn unread_notification_count(&self, caller: Principal) -> AppResult<i64> {
        Ok(self.store.unread_notification_count(caller.user_id).await?)
    }

    /// The worker's side of a `notify` job: records each notification its cause calls for (the
    /// store drops those it must not make) and tells each new one's recipient. Idempotent: a
    /// cause is recorded once.
    pub(crate) async fn notify(&self, job: NotifyJob) -> AppResult<()> {
        for wanted in self.notifications_for(job).await? {
            if let Some(created) = self.store.create_notification(&wanted).await? {
                metrics::counter!("picshare_notifications_total", "kind" => created.kind.as_str())
                    .increment(1);
                let recipient = created.recipient_id;
                let event = Event {
                    id: created.id,
                    data: EventData::NotificationCreated(created),
                };
                self.events.publish(&[recipient], event).await;
            }
        }
        Ok(())
    }

    async fn notifications_for(&self, job: NotifyJob) -> AppResult<Vec<NewNotification>> {
        use NotificationKind as Kind;
        Ok(match job {
            NotifyJob::Follow { follower, followee } => vec![notification(
                UserId(followee),
                Kind::Follow,
                UserId(follower),
            )],
            NotifyJob::FollowRequest { requester, target } => vec![notification(
                UserId(target),
                Kind::FollowRequest,
                UserId(requester),
            )],
            NotifyJob::Like { post, liker } => {
                let Some(found) = self.store.find_post(post).await? else {
                    return Ok(Vec::new());
                };
                vec![NewNotification {
                    post_id: Some(post),
                    ..notification(found.author_id, Kind::Like, UserId(liker))
                }]
            }
            NotifyJob::Comment { comment } => {
                let Some(found) = self.store.find_comment(comment).await? else {
                    return Ok(Vec::new());
                };
                let Some(post) = self.store.find_post(found.post_id).await? else {
                    return Ok(Vec::new());
                };
                let on_post = |recipient, kind| NewNotification {
                    post_id: Some(post.id),
                    comment_id: Some(comment),
                    ..notification(recipient, kind, found.author_id)
                };
                let mut wanted = vec![on_post(post.author_id, Kind::Comment)];
                for user in self.mentioned(&found.text).await? {
                    // The post's author hears of the comment already.
                    if user != post.author_id {
                        wanted.push(on_post(user, Kind::Mention));
                    }
                }
                wanted
            }
            NotifyJob::PostMentions { post } => {
                let Some(found) = self.store.find_post(post).await? else {
                    return Ok(Vec::new());
                };
                self.mentioned(&found.caption)
                    .await?
                    .into_iter()
                    .map(|user| NewNotification {
                        post_id: Some(post),
                        ..notification(user, Kind::Mention, found.author_id)
                    })
                    .collect()
            }
            NotifyJob::Message { message } => {
                let Some(found) = self.store.find_message(message).await? else {
                    return Ok(Vec::new());
                };
                let Some(sender) = found.sender_id else {
                    return Ok(Vec::new());
                };
                self.store
                    .participants(found.conversation_id)
                    .await?
                    .into_iter()
                    .filter(|user| *user != sender)
                    .map(|user| NewNotification {
                        conversation_id: Some(found.conversation_id),
                        message_id: Some(message),
                        ..notification(user, Kind::Message, sender)
                    })
                    .collect()
            }
        })
    }

    /// The accounts `text` mentions that exist, at most `MAX_NOTIFIED_MENTIONS`.
    async fn mentioned(&self, text: &str) -> AppResult<Vec<UserId>> {
        let mut users = Vec::new();
        for handle in social::mentions(text)
            .into_iter()
            .take(MAX_NOTIFIED_MENTIONS)
        {
            if let Some(user) = self.store.find_user(&UserLookup::Handle(handle)).await? {
                users.push(user.id);
            }
        }
        Ok(users)
    }
}
