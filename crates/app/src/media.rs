//! Uploads: a ticket to upload to, completion that enqueues processing, status, deletion.

use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use picshare_domain::{
    Media, MediaPurpose, MediaStatus, NewMedia, ValidationErrors, visible_to_anyone,
};
use picshare_objects::{ObjectError, original_key, upload_key};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::jobs::{DELETE_OBJECTS, DeleteObjectsJob, PROCESS_MEDIA, ProcessMediaJob, job};
use crate::{App, AppError, AppResult};

/// Types a client may declare; the real type is sniffed from the bytes when processing.
pub const ACCEPTED_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub max_upload_bytes: u64,
    pub upload_ttl: Duration,
    pub job_max_attempts: i32,
    /// Base of links to this server (for the embedded upload route).
    pub public_url: String,
    /// Longest one image may take to process; past it the upload fails.
    pub processing_timeout: Duration,
    /// Uploads one account may have open (started, not completed, not expired).
    pub max_pending_uploads: u64,
    /// Media one account may hold on no post (uploaded, processing or ready).
    pub max_unused_media: u64,
}

#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub content_type: String,
    pub size_bytes: i64,
    pub purpose: String,
}

/// A media item someone may see, and whether anyone at all may.
#[derive(Debug, Clone)]
pub struct VisibleMedia {
    pub media: Media,
    pub public: bool,
}

/// Where and how the client sends the bytes.
#[derive(Debug, Clone)]
pub struct UploadTicket {
    pub upload_id: Uuid,
    pub upload_url: String,
    pub upload_headers: Vec<(String, String)>,
    pub expires_at: OffsetDateTime,
}

/// Every object a media item may have written.
pub(crate) fn object_keys(media: &Media) -> Vec<String> {
    let id = media.id.to_string();
    let mut keys = vec![upload_key(&id), original_key(&id)];
    let names: &[&str] = match media.purpose {
        MediaPurpose::Post => &["thumb", "medium"],
        MediaPurpose::Avatar => &["avatar"],
    };
    keys.extend(
        names
            .iter()
            .map(|name| picshare_objects::variant_key(&id, name)),
    );
    keys
}

impl App {
    /// Checks the declared type and size before anything is stored, records a pending upload
    /// and says where to send the bytes.
    pub async fn start_upload(
        &self,
        caller: Principal,
        request: UploadRequest,
    ) -> AppResult<UploadTicket> {
        let purpose: MediaPurpose = request
            .purpose
            .parse()
            .map_err(|_| ValidationErrors::single("purpose", "must be \"post\" or \"avatar\""))?;
        let content_type = request.content_type;
        if !ACCEPTED_TYPES.contains(&content_type.as_str()) {
            return Err(AppError::UnsupportedMediaType(
                "uploads must be image/jpeg, image/png or image/webp",
            ));
        }
        if request.size_bytes < 1 {
            return Err(ValidationErrors::single("size_bytes", "must be at least 1").into());
        }
        let limit = self.media.max_upload_bytes;
        if request.size_bytes as u64 > limit {
            return Err(AppError::PayloadTooLarge(format!(
                "uploads may be at most {limit} bytes"
            )));
        }
        let now = OffsetDateTime::now_utc();
        self.check_unattached_media(caller, now).await?;
        let spent = self
            .spend_quota(caller.user_id, picshare_domain::Action::Upload)
            .await?;
        let id = Uuid::now_v7();
        let expires_at = now + self.media.upload_ttl;
        let created = self
            .store
            .create_media(&NewMedia {
                id,
                owner_id: caller.user_id,
                purpose,
                content_type: content_type.clone(),
                size_bytes: request.size_bytes,
                upload_expires_at: expires_at,
                created_at: now,
            })
            .await
            .map_err(From::from);
        self.keep_if(spent, &created, |_| true).await;
        created?;
        let key = upload_key(&id.to_string());
        let upload_url = match self
            .objects
            .presigned_put(&key, self.media.upload_ttl)
            .await?
        {
            Some(url) => url,
            None => {
                let token = self.tokens.issue_upload_token(id, self.media.upload_ttl)?;
                format!(
                    "{}/v1/media/upload/{id}/data?token={token}",
                    self.media.public_url
                )
            }
        };
        metrics::counter!("picshare_uploads_started_total").increment(1);
        Ok(UploadTicket {
            upload_id: id,
            upload_url,
            upload_headers: vec![("content-type".into(), content_type)],
            expires_at,
        })
    }

    /// The embedded upload route: streams the body to storage, stopping at the declared size.
    pub async fn receive_upload<S, E>(&self, id: Uuid, token: &str, body: S) -> AppResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if self.tokens.verify_upload_token(token) != Some(id) {
            return Err(AppError::Unauthorized);
        }
        let media = self.store.find_media(id).await?.ok_or(AppError::NotFound)?;
        if media.status != MediaStatus::Pending
            || media.upload_expires_at <= OffsetDateTime::now_utc()
        {
            return Err(AppError::Precondition("this upload is no longer open"));
        }
        let limit = (media.size_bytes as u64).min(self.media.max_upload_bytes);
        match self
            .objects
            .put_stream(&upload_key(&id.to_string()), body, limit)
            .await
        {
            Ok(written) => Ok(written),
            Err(ObjectError::TooLarge { limit }) => Err(AppError::PayloadTooLarge(format!(
                "the body is larger than the declared {limit} bytes"
            ))),
            Err(err) => Err(err.into()),
        }
    }

    /// Marks the caller's upload as uploaded and enqueues its processing. Idempotent: completing
    /// an upload that is already past `pending` returns it as it is.
    pub async fn complete_upload(&self, caller: Principal, id: Uuid) -> AppResult<Media> {
        let media = self.own_media(caller, id).await?;
        if media.status != MediaStatus::Pending {
            return Ok(media);
        }
        // The upload URL stays valid until it expires: the bytes checked and processed are a copy
        // it cannot reach, so nothing can replace them after this check.
        let uploaded = upload_key(&id.to_string());
        let key = original_key(&id.to_string());
        match self.objects.copy(&uploaded, &key).await {
            Ok(()) => self.objects.delete(&uploaded).await?,
            // Moved by an earlier completion that stopped before recording it (or by one running
            // now), or never uploaded: the original, if any, is what counts.
            Err(ObjectError::NotFound) => {}
            Err(err) => return Err(err.into()),
        }
        let Some(size) = self.objects.size(&key).await? else {
            return Err(AppError::Precondition("nothing has been uploaded yet"));
        };
        let limit = (media.size_bytes as u64).min(self.media.max_upload_bytes);
        if size > limit {
            // Possible with a presigned URL, which cannot bound the size: refuse it, keep nothing.
            self.objects.delete(&key).await?;
            self.store
                .fail_media(id, "the file is larger than the declared size")
                .await?;
        } else {
            let process = job(
                PROCESS_MEDIA,
                &ProcessMediaJob { media_id: id },
                self.media.job_max_attempts,
            )?;
            let now = OffsetDateTime::now_utc();
            if !self
                .store
                .mark_uploaded(id, caller.user_id, now, &process)
                .await?
            {
                // Either a concurrent completion won (answer as it did) or the upload expired.
                let current = self.own_media(caller, id).await?;
                if current.status != MediaStatus::Pending {
                    return Ok(current);
                }
                return Err(AppError::Precondition("this upload has expired"));
            }
            self.wake_workers().await;
        }
        self.own_media(caller, id).await
    }

    /// The caller's own media, in any state; anyone else's is not found.
    pub async fn own_media(&self, caller: Principal, id: Uuid) -> AppResult<Media> {
        match self.store.find_media(id).await? {
            Some(media) if media.owner_id == caller.user_id => Ok(media),
            _ => Err(AppError::NotFound),
        }
    }

    /// Media as others may see it: anything to its owner; a ready avatar to anyone; a ready post
    /// image to whoever may see the post it is on (and to nobody else while it is on none).
    /// `public` says whether anyone at all may see it now (its links are then stable).
    pub async fn visible_media(
        &self,
        viewer: Option<Principal>,
        id: Uuid,
    ) -> AppResult<VisibleMedia> {
        let media = self.store.find_media(id).await?.ok_or(AppError::NotFound)?;
        let owner_viewing = viewer.is_some_and(|v| v.user_id == media.owner_id);
        if media.status != MediaStatus::Ready {
            if !owner_viewing {
                return Err(AppError::NotFound);
            }
            let public = false;
            return Ok(VisibleMedia { media, public });
        }
        let public = match media.purpose {
            MediaPurpose::Avatar => true,
            MediaPurpose::Post => match self.store.post_of_media(id).await? {
                Some(post) => {
                    let (post, author) = self.visible_post(viewer, post).await?;
                    visible_to_anyone(author.id, author.is_private, post.visibility)
                        && post.taken_down.is_none()
                }
                None if owner_viewing => false,
                None => return Err(AppError::NotFound),
            },
        };
        Ok(VisibleMedia { media, public })
    }

    /// Deletes the caller's media; its objects are removed by a job enqueued with the delete.
    pub async fn delete_media(&self, caller: Principal, id: Uuid) -> AppResult<()> {
        let media = self.own_media(caller, id).await?;
        let cleanup = job(
            DELETE_OBJECTS,
            &DeleteObjectsJob {
                keys: object_keys(&media),
            },
            self.media.job_max_attempts,
        )?;
        match self
            .store
            .delete_media(id, caller.user_id, &cleanup)
            .await?
        {
            Some(_) => {
                // It may have been the avatar, now cleared.
                self.recent_users.remove(&caller.user_id);
                Ok(())
            }
            None => Err(AppError::Precondition(
                "this media is on a post; edit or delete the post instead",
            )),
        }
    }

    /// Deletes uploads never completed before their expiry (and, through jobs, their bytes).
    pub async fn cleanup_expired_uploads(&self) -> AppResult<u64> {
        let mut deleted = 0;
        loop {
            let expired = self
                .store
                .expired_uploads(OffsetDateTime::now_utc(), 500)
                .await?;
            if expired.is_empty() {
                return Ok(deleted);
            }
            for media in expired {
                let cleanup = job(
                    DELETE_OBJECTS,
                    &DeleteObjectsJob {
                        keys: object_keys(&media),
                    },
                    self.media.job_max_attempts,
                )?;
                if self
                    .store
                    .delete_media(media.id, media.owner_id, &cleanup)
                    .await?
                    .is_some()
                {
                    deleted += 1;
                }
            }
        }
    }

    /// Refuses a new upload when the caller already holds as many open uploads, or as much media
    /// on no post, as one account may.
    async fn check_unattached_media(
        &self,
        caller: Principal,
        now: OffsetDateTime,
    ) -> AppResult<()> {
        let counts = self
            .store
            .unattached_media_counts(caller.user_id, now)
            .await?;
        if counts.pending >= self.media.max_pending_uploads {
            return Err(AppError::Precondition(
                "too many uploads are open; complete them or let them expire first",
            ));
        }
        if counts.unused >= self.media.max_unused_media {
            return Err(AppError::Precondition(
                "too many uploaded images are on no post; post or delete some first",
            ));
        }
        Ok(())
    }
}
