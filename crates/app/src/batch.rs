//! Batch jobs: repairs and clean-ups, run as `picshare batch <name>` or on a schedule by `serve`
//! and `worker`. Any number of processes may try one at once; a lease in `batch_runs` lets one
//! run it, and the row keeps how its last run went for `/metrics`. Each works in bounded
//! batches, so none holds a table for long (README, "Commands").

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use picshare_store::{BatchOutcome, TIMELINE_WINDOW};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::jobs::{DELETE_OBJECTS, DeleteObjectsJob, job};
use crate::media::object_keys;
use crate::{App, AppError, AppResult};

/// Rows or objects one step handles.
const BATCH: u32 = 500;
/// How long a run holds its job before it must say it is alive (a third of it, each time).
const LEASE: Duration = Duration::from_secs(60);
/// Media still uploaded or processing after this long will never finish: failed, files gone.
const STALE_MEDIA: Duration = Duration::from_secs(24 * 3600);
/// Unused invites are kept this long past their expiry or revocation (the owner may look).
const INVITE_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchJob {
    Recount,
    Repair,
    CleanupTokens,
    CleanupInvites,
    CleanupUploads,
    Orphans,
    PruneTimelines,
}

impl BatchJob {
    pub const ALL: [BatchJob; 7] = [
        BatchJob::Recount,
        BatchJob::Repair,
        BatchJob::CleanupTokens,
        BatchJob::CleanupInvites,
        BatchJob::CleanupUploads,
        BatchJob::Orphans,
        BatchJob::PruneTimelines,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BatchJob::Recount => "recount",
            BatchJob::Repair => "repair",
            BatchJob::CleanupTokens => "cleanup-tokens",
            BatchJob::CleanupInvites => "cleanup-invites",
            BatchJob::CleanupUploads => "cleanup-uploads",
            BatchJob::Orphans => "orphans",
            BatchJob::PruneTimelines => "prune-timelines",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|job| job.name() == name)
    }

    /// How often the scheduler runs it unless configured otherwise.
    pub fn default_interval(self) -> Duration {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        match self {
            BatchJob::Recount | BatchJob::Orphans => hours(24),
            BatchJob::Repair | BatchJob::PruneTimelines | BatchJob::CleanupInvites => hours(6),
            BatchJob::CleanupTokens | BatchJob::CleanupUploads => Duration::from_secs(600),
        }
    }
}

/// How batch jobs run (configurable: `batch_intervals`, `orphan_grace_secs`).
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// How often the scheduler runs each job; a job left out is not scheduled.
    pub intervals: HashMap<BatchJob, Duration>,
    /// Objects no row names are removed once this old (an upload may be on its way).
    pub orphan_grace: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            intervals: BatchJob::ALL
                .into_iter()
                .map(|job| (job, job.default_interval()))
                .collect(),
            orphan_grace: Duration::from_secs(24 * 3600),
        }
    }
}

fn outcome(found: u64, fixed: u64, detail: String) -> BatchOutcome {
    BatchOutcome {
        succeeded: true,
        found,
        fixed,
        detail,
    }
}

impl App {
    /// Runs `job` unless another process is running it (`None` then); records the outcome,
    /// a failure too.
    pub async fn run_batch(&self, job: BatchJob, holder: &str) -> AppResult<Option<BatchOutcome>> {
        let store = &self.store;
        let now = OffsetDateTime::now_utc();
        if !store
            .start_batch(job.name(), holder, now, now + LEASE)
            .await?
        {
            return Ok(None);
        }
        let keep_leased = async {
            loop {
                tokio::time::sleep(LEASE / 3).await;
                let until = OffsetDateTime::now_utc() + LEASE;
                match store.extend_batch(job.name(), holder, until).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(err) => {
                        tracing::warn!(job = job.name(), error = %err, "extending a batch lease failed")
                    }
                }
            }
        };
        let result = tokio::select! {
            result = self.batch_work(job) => result,
            () = keep_leased => Err(AppError::internal(std::io::Error::other(
                "the batch job's lease was taken over",
            ))),
        };
        let recorded = match &result {
            Ok(done) => done.clone(),
            Err(err) => BatchOutcome {
                detail: err.to_string(),
                ..BatchOutcome::default()
            },
        };
        let finished = OffsetDateTime::now_utc();
        store
            .finish_batch(job.name(), holder, finished, &recorded)
            .await?;
        let status = if recorded.succeeded { "ok" } else { "failed" };
        metrics::counter!("picshare_batch_runs_total", "job" => job.name(), "outcome" => status)
            .increment(1);
        result.map(Some)
    }

    /// Runs every scheduled job whose interval has passed since its last run (by any process),
    /// or since `since` (this process's start) for a job never run: a first start does not
    /// begin with every job at once.
    pub async fn run_due_batches(&self, holder: &str, since: OffsetDateTime) {
        let last: HashMap<String, OffsetDateTime> = match self.store.batch_runs().await {
            Ok(runs) => runs
                .into_iter()
                .filter_map(|run| Some((run.name, run.finished_at?)))
                .collect(),
            Err(err) => {
                tracing::warn!(error = %err, "reading batch runs failed");
                return;
            }
        };
        let now = OffsetDateTime::now_utc();
        for job in BatchJob::ALL {
            let Some(every) = self.settings.batch.intervals.get(&job) else {
                continue;
            };
            if *last.get(job.name()).unwrap_or(&since) + *every > now {
                continue;
            }
            match self.run_batch(job, holder).await {
                Ok(Some(done)) => {
                    tracing::info!(
                        job = job.name(),
                        found = done.found,
                        fixed = done.fixed,
                        detail = done.detail,
                        "batch job done"
                    )
                }
                Ok(None) => {}
                Err(err) => tracing::error!(job = job.name(), error = %err, "batch job failed"),
            }
        }
    }

    async fn batch_work(&self, job: BatchJob) -> AppResult<BatchOutcome> {
        let store = &self.store;
        let now = OffsetDateTime::now_utc();
        Ok(match job {
            BatchJob::Recount => {
                let fixed = self.recount().await?;
                outcome(fixed, fixed, format!("{fixed} rows had a wrong counter"))
            }
            BatchJob::CleanupTokens => {
                let deleted = store.delete_expired_refresh_tokens(now).await?;
                outcome(
                    deleted,
                    deleted,
                    format!("{deleted} expired refresh tokens"),
                )
            }
            BatchJob::CleanupUploads => {
                let deleted = self.cleanup_expired_uploads().await?;
                outcome(deleted, deleted, format!("{deleted} expired uploads"))
            }
            BatchJob::CleanupInvites => {
                let mut deleted = 0;
                loop {
                    let batch = store
                        .delete_stale_invites(now - INVITE_RETENTION, BATCH)
                        .await?;
                    deleted += batch;
                    if batch < u64::from(BATCH) {
                        break;
                    }
                }
                outcome(
                    deleted,
                    deleted,
                    format!("{deleted} unused invites past expiry"),
                )
            }
            BatchJob::Repair => self.repair().await?,
            BatchJob::Orphans => self.remove_orphans().await?,
            BatchJob::PruneTimelines => {
                let (mut after, mut deleted) = (Uuid::nil(), 0);
                while let (Some(last), removed) =
                    store.prune_timelines(after, BATCH, TIMELINE_WINDOW).await?
                {
                    (after, deleted) = (last, deleted + removed);
                }
                outcome(
                    deleted,
                    deleted,
                    format!("{deleted} timeline entries past the window"),
                )
            }
        })
    }

    /// Timeline entries of deleted posts, avatars naming no ready avatar, and media that will
    /// never finish processing.
    async fn repair(&self) -> AppResult<BatchOutcome> {
        let store = &self.store;
        let (mut after, mut entries) = (Uuid::nil(), 0);
        while let (Some(last), removed) = store.repair_timelines(after, BATCH).await? {
            (after, entries) = (last, entries + removed);
        }
        let (mut after, mut avatars) = (Uuid::nil(), 0);
        while let (Some(last), cleared) = store.repair_avatars(after, BATCH).await? {
            (after, avatars) = (last, avatars + cleared);
        }
        let mut stale = 0;
        let stale_before = OffsetDateTime::now_utc() - STALE_MEDIA;
        let reason = "the image could not be processed; please try again";
        loop {
            let failed = store.fail_stale_media(stale_before, reason, BATCH).await?;
            if failed.is_empty() {
                break;
            }
            stale += failed.len() as u64;
            let keys = failed.iter().flat_map(object_keys).collect();
            let cleanup = job(
                DELETE_OBJECTS,
                &DeleteObjectsJob { keys },
                self.media.job_max_attempts,
            )?;
            store.enqueue(&cleanup).await?;
        }
        let fixed = entries + avatars + stale;
        Ok(outcome(
            fixed,
            fixed,
            format!(
                "{entries} timeline entries of deleted posts, {avatars} avatars of missing media, \
                 {stale} media stuck in processing"
            ),
        ))
    }

    /// Objects no media row names, older than the grace, are removed; ready media whose
    /// original is missing are reported (there is nothing to restore them from).
    async fn remove_orphans(&self) -> AppResult<BatchOutcome> {
        let grace_start = SystemTime::now() - self.settings.batch.orphan_grace;
        let mut removed = 0;
        for prefix in ["uploads", "originals", "variants"] {
            let mut listing = std::pin::pin!(self.objects.list(prefix));
            let mut batch: Vec<(String, Uuid)> = Vec::new();
            loop {
                let next = listing.next().await.transpose()?;
                if let Some((key, written)) = &next {
                    // `<prefix>/<media id>` or `variants/<media id>/<name>.jpg`.
                    let id = key.split('/').nth(1).and_then(|id| id.parse().ok());
                    match id {
                        Some(id) if *written < grace_start => batch.push((key.clone(), id)),
                        Some(_) => {}
                        None => tracing::warn!(key, "an object no media could own"),
                    }
                }
                if batch.len() >= BATCH as usize || (next.is_none() && !batch.is_empty()) {
                    removed += self.remove_unowned(std::mem::take(&mut batch)).await?;
                }
                if next.is_none() {
                    break;
                }
            }
        }
        let (mut after, mut missing) = (Uuid::nil(), 0);
        loop {
            let media = self.store.ready_media_after(after, BATCH).await?;
            let Some(last) = media.last() else { break };
            after = last.id;
            for item in &media {
                let key = picshare_objects::original_key(&item.id.to_string());
                if self.objects.size(&key).await?.is_none() {
                    tracing::warn!(media = %item.id, "a ready media item's original is missing");
                    missing += 1;
                }
            }
        }
        Ok(outcome(
            removed + missing,
            removed,
            format!(
                "{removed} objects no media names removed; {missing} ready media miss their original"
            ),
        ))
    }

    /// Deletes the objects of `batch` whose media row does not exist.
    async fn remove_unowned(&self, batch: Vec<(String, Uuid)>) -> AppResult<u64> {
        let ids: Vec<Uuid> = batch.iter().map(|(_, id)| *id).collect();
        let existing = self.store.existing_media(&ids).await?;
        let mut removed = 0;
        for (key, id) in batch {
            if !existing.contains(&id) {
                self.objects.delete(&key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
