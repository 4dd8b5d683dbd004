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
    })
}

/// Every kind of job the worker runs (metrics report each, even when none are queued).
pub const JOB_KINDS: [&str; 4] = [PROCESS_MEDIA, DELETE_OBJECTS, FAN_OUT, BUILD_TIMELINE];
