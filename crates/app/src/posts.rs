//! Posts, likes and comments, with the visibility rules applied to every read and write.

use picshare_domain::social::{self, MAX_POST_MEDIA};
use picshare_domain::{
    Action, Comment, Location, PostAccess, User, UserId, UserLookup, ValidationErrors, Visibility,
    post_access,
};
use picshare_store::{
    CaptionEdit, NewComment, NewPost, Page, PageRequest, Post, PostRefusal, PostUpdate,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::jobs::{DELETE_OBJECTS, DeleteObjectsJob, NotifyJob, fan_out_job, job, notify_job};
use crate::media::object_keys;
use crate::{App, AppError, AppResult};

#[derive(Debug, Clone)]
pub struct LocationInput {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone)]
pub struct PostInput {
    pub caption: Option<String>,
    pub media_ids: Vec<Uuid>,
    pub visibility: String,
    pub location: Option<LocationInput>,
}

/// An edit as the client sent it; `location: Some(None)` removes the location.
#[derive(Debug, Clone, Default)]
pub struct PostEdit {
    pub caption: Option<String>,
    pub visibility: Option<String>,
    pub location: Option<Option<LocationInput>>,
    pub media_ids: Option<Vec<Uuid>>,
}

/// A post as one viewer sees it.
#[derive(Debug, Clone)]
pub struct PostView {
    pub post: Post,
    pub author: User,
    pub liked_by_me: bool,
}

impl From<picshare_store::FeedEntry> for PostView {
    fn from(entry: picshare_store::FeedEntry) -> Self {
        Self {
            post: entry.post,
            author: entry.author,
            liked_by_me: entry.liked_by_me,
        }
    }
}

fn location(errors: &mut ValidationErrors, input: Option<LocationInput>) -> Option<Location> {
    input.and_then(|l| errors.check("location", Location::parse(&l.name, l.lat, l.lon)))
}

fn media_list(errors: &mut ValidationErrors, ids: &[Uuid]) {
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if ids.is_empty() || ids.len() > MAX_POST_MEDIA || unique.len() != ids.len() {
        errors.check::<()>(
            "media_ids",
            Err(format!("must list 1 to {MAX_POST_MEDIA} different media")),
        );
    }
}

impl App {
    pub async fn create_post(&self, caller: Principal, input: PostInput) -> AppResult<PostView> {
        let mut errors = ValidationErrors::default();
        let caption = errors.check(
            "caption",
            social::parse_caption(input.caption.as_deref().unwrap_or_default()),
        );
        let visibility = errors.check("visibility", input.visibility.parse::<Visibility>());
        let location = location(&mut errors, input.location);
        media_list(&mut errors, &input.media_ids);
        let (Some(caption), Some(visibility)) = (caption, visibility) else {
            return Err(errors.into());
        };
        errors.into_result()?;
        let new = NewPost {
            id: Uuid::now_v7(),
            author_id: caller.user_id,
            hashtags: social::hashtags(&caption),
            mentions: social::mentions(&caption),
            caption,
            visibility,
            location,
            media_ids: input.media_ids,
            created_at: OffsetDateTime::now_utc(),
        };
        let mut jobs = vec![fan_out_job(new.id)?];
        if !new.mentions.is_empty() {
            jobs.push(notify_job(NotifyJob::PostMentions { post: new.id })?);
        }
        // Read before the write, so that the answer to a committed post cannot fail; the
        // write counts the post in the same transaction.
        let mut author = self.find_user(&UserLookup::Id(caller.user_id)).await?;
        let spent = self.spend_quota(caller.user_id, Action::Post).await?;
        let created = self
            .store
            .create_post(&new, &jobs)
            .await
            .map_err(From::from);
        self.keep_if(spent, &created, Result::is_ok).await;
        match created? {
            Ok(post) => {
                self.wake_workers().await;
                author.posts_count += 1;
                Ok(PostView {
                    post,
                    author,
                    liked_by_me: false,
                })
            }
            Err(_) => Err(ValidationErrors::single(
                "media_ids",
                "every media must be a ready post upload of yours, not on another post",
            )
            .into()),
        }
    }

    /// A post the viewer may see; anything else is not found.
    pub async fn get_post(&self, viewer: Option<Principal>, id: Uuid) -> AppResult<PostView> {
        let (post, author) = self.visible_post(viewer, id).await?;
        self.view_with(viewer, post, author).await
    }

    pub async fn update_post(
        &self,
        caller: Principal,
        id: Uuid,
        edit: PostEdit,
    ) -> AppResult<PostView> {
        let (post, _) = self.visible_post(Some(caller), id).await?;
        if post.author_id != caller.user_id {
            return Err(AppError::Forbidden("only the author can edit a post"));
        }
        let mut errors = ValidationErrors::default();
        let caption = edit
            .caption
            .and_then(|c| errors.check("caption", social::parse_caption(&c)));
        let visibility = edit
            .visibility
            .and_then(|v| errors.check("visibility", v.parse::<Visibility>()));
        let location = edit.location.map(|l| location(&mut errors, l));
        if let Some(ids) = &edit.media_ids {
            media_list(&mut errors, ids);
        }
        errors.into_result()?;
        let update = PostUpdate {
            caption: caption.map(|text| CaptionEdit {
                hashtags: social::hashtags(&text),
                mentions: social::mentions(&text),
                text,
            }),
            visibility,
            location,
            media_ids: edit.media_ids,
        };
        // Mentions new to the caption notify (those notified before are not again), so an
        // edit that mentions someone new counts as a post.
        let mentioned_before = social::mentions(&post.caption);
        let mentions_someone_new = update.caption.as_ref().is_some_and(|c| {
            c.mentions
                .iter()
                .any(|handle| !mentioned_before.contains(handle))
        });
        let mut jobs = Vec::new();
        let mut spent = None;
        if mentions_someone_new {
            jobs.push(notify_job(NotifyJob::PostMentions { post: id })?);
            spent = Some(self.spend_quota(caller.user_id, Action::Post).await?);
        }
        let updated = self
            .store
            .update_post(id, &update, &jobs)
            .await
            .map_err(From::from);
        if let Some(spent) = spent {
            self.keep_if(spent, &updated, Result::is_ok).await;
        }
        match updated? {
            Ok(post) => {
                self.wake_workers().await;
                self.view(caller.into(), post).await
            }
            Err(PostRefusal::NotFound) => Err(AppError::NotFound),
            Err(PostRefusal::MediaUnavailable) => Err(ValidationErrors::single(
                "media_ids",
                "may only reorder or remove the post's own media, keeping at least one",
            )
            .into()),
        }
    }

    /// Deletes a post (its author or a moderator); its media files are removed by a job.
    pub async fn delete_post(&self, caller: Principal, id: Uuid) -> AppResult<()> {
        let post = self.post_to_moderate(caller, id).await?;
        if post.author_id != caller.user_id && !self.acts_as_moderator(caller).await? {
            return Err(AppError::Forbidden(
                "only the author or a moderator can delete a post",
            ));
        }
        let keys = post.media.iter().flat_map(object_keys).collect();
        let cleanup = job(
            DELETE_OBJECTS,
            &DeleteObjectsJob { keys },
            self.media.job_max_attempts,
        )?;
        if self.store.delete_post(id, &cleanup).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn user_posts(
        &self,
        viewer: Option<Principal>,
        author: &UserLookup,
        page: PageRequest,
    ) -> AppResult<Page<PostView>> {
        let author = self.visible_user(viewer, author).await?;
        let access = self.access_to(viewer, &author).await?;
        if access == PostAccess::None {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let own = viewer.is_some_and(|v| v.user_id == author.id);
        let include_taken_down = own || self.sees_as_moderator(viewer).await?;
        let posts = self
            .store
            .user_posts(
                author.id,
                access == PostAccess::All,
                include_taken_down,
                page,
            )
            .await?;
        let liked = self.liked_among(viewer, &posts.items).await?;
        let items = posts
            .items
            .into_iter()
            .map(|post| PostView {
                liked_by_me: liked.contains(&post.id),
                post,
                author: author.clone(),
            })
            .collect();
        Ok(Page {
            items,
            next: posts.next,
        })
    }

    pub async fn like(&self, caller: Principal, id: Uuid) -> AppResult<i64> {
        self.visible_post(Some(caller), id).await?;
        let notify = notify_job(NotifyJob::Like {
            post: id,
            liker: caller.user_id.0,
        })?;
        let spent = self.spend_quota(caller.user_id, Action::Like).await?;
        let liked = self
            .store
            .like(id, caller.user_id, &notify)
            .await
            .map_err(From::from);
        self.keep_if(spent, &liked, |_| true).await;
        let count = liked?;
        self.wake_workers().await;
        Ok(count)
    }

    pub async fn unlike(&self, caller: Principal, id: Uuid) -> AppResult<i64> {
        self.visible_post(Some(caller), id).await?;
        Ok(self.store.unlike(id, caller.user_id).await?)
    }

    pub async fn likers(
        &self,
        viewer: Option<Principal>,
        id: Uuid,
        page: PageRequest,
    ) -> AppResult<Page<User>> {
        self.visible_post(viewer, id).await?;
        Ok(self
            .store
            .likers(id, viewer.map(|v| v.user_id), page)
            .await?)
    }

    pub async fn add_comment(
        &self,
        caller: Principal,
        id: Uuid,
        text: &str,
    ) -> AppResult<(Comment, User)> {
        let text = social::parse_comment(text)
            .map_err(|message| ValidationErrors::single("text", message))?;
        self.visible_post(Some(caller), id).await?;
        let new = NewComment {
            id: Uuid::now_v7(),
            post_id: id,
            author_id: caller.user_id,
            text,
            created_at: OffsetDateTime::now_utc(),
        };
        let notify = notify_job(NotifyJob::Comment { comment: new.id })?;
        // Read before the write: once it has committed, the answer must not depend on another
        // call that could fail (the client would be told 503 for a comment that exists).
        let author = self.find_user(&UserLookup::Id(caller.user_id)).await?;
        let spent = self.spend_quota(caller.user_id, Action::Comment).await?;
        let added = self
            .store
            .add_comment(&new, &notify)
            .await
            .map_err(From::from);
        self.keep_if(spent, &added, |_| true).await;
        let comment = added?;
        self.wake_workers().await;
        Ok((comment, author))
    }

    pub async fn comments(
        &self,
        viewer: Option<Principal>,
        id: Uuid,
        page: PageRequest,
    ) -> AppResult<Page<(Comment, User)>> {
        self.visible_post(viewer, id).await?;
        let moderator = self.sees_as_moderator(viewer).await?;
        let comments = self
            .store
            .comments(id, viewer.map(|v| v.user_id), moderator, page)
            .await?;
        // Every author of the page in one query.
        let ids: Vec<UserId> = comments.items.iter().map(|c| c.author_id).collect();
        let authors: std::collections::HashMap<UserId, User> = self
            .store
            .find_users(&ids)
            .await?
            .into_iter()
            .map(|user| (user.id, user))
            .collect();
        let items = comments
            .items
            .into_iter()
            .filter_map(|comment| {
                // An author deleted since the page was read takes their comments along.
                let author = authors.get(&comment.author_id)?.clone();
                Some((comment, author))
            })
            .collect();
        Ok(Page {
            items,
            next: comments.next,
        })
    }

    /// Deletes a comment: its author, the post's author or a moderator may.
    pub async fn delete_comment(
        &self,
        caller: Principal,
        post_id: Uuid,
        comment_id: Uuid,
    ) -> AppResult<()> {
        let post = self.post_to_moderate(caller, post_id).await?;
        let comment = match self.store.find_comment(comment_id).await? {
            Some(comment) if comment.post_id == post_id => comment,
            _ => return Err(AppError::NotFound),
        };
        let allowed = comment.author_id == caller.user_id
            || post.author_id == caller.user_id
            || self.acts_as_moderator(caller).await?;
        if !allowed {
            return Err(AppError::Forbidden(
                "only the comment's author, the post's author or a moderator can delete it",
            ));
        }
        self.store.delete_comment(post_id, comment_id).await?;
        Ok(())
    }

    /// Recomputes every counter; returns how many rows were off.
    pub async fn recount(&self) -> AppResult<u64> {
        Ok(self.store.recount(500).await?)
    }

    /// The post, for an action a moderator may take on anything: moderators reach every post,
    /// others only those they may see.
    async fn post_to_moderate(&self, caller: Principal, id: Uuid) -> AppResult<Post> {
        if self.acts_as_moderator(caller).await? {
            return self.store.find_post(id).await?.ok_or(AppError::NotFound);
        }
        Ok(self.visible_post(Some(caller), id).await?.0)
    }

    /// Which of `posts` the viewer liked, in one query.
    pub(crate) async fn liked_among(
        &self,
        viewer: Option<Principal>,
        posts: &[Post],
    ) -> AppResult<std::collections::HashSet<Uuid>> {
        let Some(viewer) = viewer else {
            return Ok(Default::default());
        };
        let ids: Vec<Uuid> = posts.iter().map(|post| post.id).collect();
        Ok(self
            .store
            .liked_among(viewer.user_id, &ids)
            .await?
            .into_iter()
            .collect())
    }

    async fn access_to(&self, viewer: Option<Principal>, author: &User) -> AppResult<PostAccess> {
        let relationship = match viewer {
            Some(viewer) if viewer.user_id != author.id => {
                self.store.relationship(viewer.user_id, author.id).await?
            }
            _ => Default::default(),
        };
        Ok(post_access(
            viewer.map(|v| v.user_id),
            author.id,
            author.is_private,
            relationship,
        ))
    }

    pub(crate) async fn visible_post(
        &self,
        viewer: Option<Principal>,
        id: Uuid,
    ) -> AppResult<(Post, User)> {
        let post = self.store.find_post(id).await?.ok_or(AppError::NotFound)?;
        let author = self.find_user(&UserLookup::Id(post.author_id)).await?;
        let allowed = self
            .access_to(viewer, &author)
            .await?
            .allows(post.visibility);
        // Taken down: there for its author and moderators only.
        let own = viewer.is_some_and(|v| v.user_id == post.author_id);
        if allowed && (post.taken_down.is_none() || own) {
            return Ok((post, author));
        }
        // Moderators also see taken-down posts whatever their audience (to review a takedown);
        // other posts they may not see stay hidden from them too.
        if post.taken_down.is_none() || !self.sees_as_moderator(viewer).await? {
            return Err(AppError::NotFound);
        }
        Ok((post, author))
    }

    async fn view(&self, viewer: Option<Principal>, post: Post) -> AppResult<PostView> {
        let author = self.find_user(&UserLookup::Id(post.author_id)).await?;
        self.view_with(viewer, post, author).await
    }

    async fn view_with(
        &self,
        viewer: Option<Principal>,
        post: Post,
        author: User,
    ) -> AppResult<PostView> {
        let liked_by_me = match viewer {
            Some(viewer) => self.store.has_liked(post.id, viewer.user_id).await?,
            None => false,
        };
        Ok(PostView {
            post,
            author,
            liked_by_me,
        })
    }
}
