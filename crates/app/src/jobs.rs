//! Every kind of background job, its payload, and how one is made: the use cases enqueue them
//! in the transaction of the write that causes them, the worker runs them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use picshare_store::NewJob;

use crate::{AppError, AppResult};

/// Job: make the variants of an uploaded image.
pub const PROCESS_MEDIA: &str = "process_media";
/// Job: remove objects from storage.
pub const DELETE_OBJECTS: &str = "delete_objects";

/// Job: write a new post into its author's followers' timelines.
pub const FAN_OUT: &str = "fan_out_post";
/// Job: fill a started timeline from the follow graph.
pub const BUILD_TIMELINE: &str = "build_timeline";
/// Job: turn something that happened into notifications for the people it concerns.
pub const NOTIFY: &str = "notify";
/// Job: remove a deleted account's data (`accounts::DeleteAccountJob`).
pub const DELETE_ACCOUNT: &str = "delete_account";

/// What a `notify` job was enqueued for, by the write that did it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum NotifyJob {
    Follow {
        follower: Uuid,
        followee: Uuid,
    },
    FollowRequest {
        requester: Uuid,
        target: Uuid,
    },
    Like {
        post: Uuid,
        liker: Uuid,
    },
    /// The post's author, and everyone the comment mentions.
    Comment {
        comment: Uuid,
    },
    /// Everyone a post's caption mentions (again after an edit: only new mentions notify).
    PostMentions {
        post: Uuid,
    },
    Message {
        message: Uuid,
    },
}

pub(crate) fn notify_job(cause: NotifyJob) -> AppResult<NewJob> {
    job(NOTIFY, &cause, 8)
}

/// The order jobs are claimed in (lowest first): what people wait for in real time first;
/// image work in the heavy lane of its own (`picshare_store::JobLane`).
fn priority_of(kind: &str) -> i16 {
    match kind {
        NOTIFY => 0,
        BUILD_TIMELINE => 1,
        FAN_OUT => 2,
        PROCESS_MEDIA => picshare_store::HEAVY_PRIORITY,
        _ => 5,
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FanOutJob {
    pub post_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BuildTimelineJob {
    pub user_id: Uuid,
}

pub(crate) fn fan_out_job(post: Uuid) -> AppResult<picshare_store::NewJob> {
    job(FAN_OUT, &FanOutJob { post_id: post }, 10)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessMediaJob {
    pub media_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteObjectsJob {
    pub keys: Vec<String>,
}

pub(crate) fn job(kind: &str, payload: &impl Serialize, max_attempts: i32) -> AppResult<NewJob> {
    Ok(NewJob {
        id: Uuid::now_v7(),
        kind: kind.to_owned(),
        payload: serde_json::to_string(payload).map_err(AppError::internal)?,
        run_at: OffsetDateTime::now_utc(),
        max_attempts,
        priority: priority_of(kind),
    })
}

/// Every kind of job the worker runs (metrics report each, even when none are queued).
pub const JOB_KINDS: [&str; 6] = [
    PROCESS_MEDIA,
    DELETE_OBJECTS,
    FAN_OUT,
    BUILD_TIMELINE,
    NOTIFY,
    DELETE_ACCOUNT,
];
