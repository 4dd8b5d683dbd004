//! The background worker: claims jobs from the database queue, runs them, retries failures with
//! exponential backoff and jitter, and buries jobs that keep failing as `dead`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use picshare_domain::{MediaPurpose, ProcessedMedia, StoredVariant};
use picshare_media::Purpose;
use picshare_objects::{ObjectError, original_key, variant_key};
use picshare_store::{ClaimedJob, JobLane};
use rand::Rng;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::accounts::DeleteAccountJob;
use crate::jobs::{
    BUILD_TIMELINE, BuildTimelineJob, DELETE_ACCOUNT, DELETE_OBJECTS, DeleteObjectsJob, FAN_OUT,
    FanOutJob, NOTIFY, NotifyJob, PROCESS_MEDIA, ProcessMediaJob,
};
use crate::media::object_keys;
use crate::{App, AppError};

pub use crate::jobs::JOB_KINDS;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long a claimed job is ours; after that, another worker may take it over.
    pub lease: Duration,
    pub poll_interval: Duration,
    /// Heavy-lane jobs (image processing) run at once by this worker.
    pub concurrency: usize,
    /// Light-lane jobs (notifications, feeds, cleanup) run at once by this worker: mostly
    /// waiting on the database, so more of them than cores.
    pub light_slots: usize,
    /// First retry delay; doubled per attempt, capped at an hour, with ±25% jitter.
    pub retry_base: Duration,
    /// Longest one job may run; past it the job fails (media: for good, as too costly).
    pub job_timeout: Duration,
    /// Refresh the planner's statistics of tables the jobs changed past them
    /// (`statistics::keep_planner_statistics`).
    pub refresh_statistics: bool,
}

/// A job failed in a way worth retrying (storage or database trouble).
struct Retry(String);

impl From<AppError> for Retry {
    fn from(err: AppError) -> Self {
        Retry(err.to_string())
    }
}

impl From<picshare_store::StoreError> for Retry {
    fn from(err: picshare_store::StoreError) -> Self {
        Retry(err.to_string())
    }
}

impl From<ObjectError> for Retry {
    fn from(err: ObjectError) -> Self {
        Retry(err.to_string())
    }
}

#[derive(Clone)]
pub struct Worker {
    app: App,
    name: String,
    settings: WorkerSettings,
    /// Bounds CPU-heavy image work on the blocking pool.
    cpu: Arc<Semaphore>,
    /// Bounds the heavy-lane jobs this worker holds at once.
    slots: Arc<Semaphore>,
    /// Bounds the light-lane jobs this worker holds at once.
    light_slots: Arc<Semaphore>,
    /// Where `run` sends finished jobs to be deleted in batches (`None`: one by one).
    finished: Option<tokio::sync::mpsc::Sender<uuid::Uuid>>,
}

/// Finished jobs waiting to be deleted, at most; a full queue makes finishing jobs wait.
const FINISHED_QUEUE: usize = 4096;
/// Jobs deleted by one statement, at most.
const FINISHED_BATCH: usize = 256;

impl Worker {
    pub fn new(app: App, settings: WorkerSettings) -> Self {
        let name = format!("worker-{}", uuid::Uuid::now_v7());
        let cpu = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let light_slots = Arc::new(Semaphore::new(settings.light_slots.max(1)));
        Self {
            app,
            name,
            settings,
            cpu,
            slots,
            light_slots,
            finished: None,
        }
    }

    /// Deletes finished jobs, as many per statement as have finished meanwhile: one write for
    /// many short jobs. A batch that fails to be deleted runs again after its lease, which
    /// idempotent handlers allow.
    async fn delete_finished(
        store: Arc<dyn picshare_store::Store>,
        worker: String,
        mut finished: tokio::sync::mpsc::Receiver<uuid::Uuid>,
        jobs_finished: Arc<tokio::sync::Notify>,
    ) {
        while let Some(first) = finished.recv().await {
            let mut batch = vec![first];
            while batch.len() < FINISHED_BATCH {
                match finished.try_recv() {
                    Ok(id) => batch.push(id),
                    Err(_) => break,
                }
            }
            if let Err(err) = store.complete_jobs(&batch, &worker).await {
                tracing::error!(error = %err, jobs = batch.len(), "recording finished jobs failed");
            }
            jobs_finished.notify_one();
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs until `shutdown` resolves; jobs in flight finish first. Each job runs on its own and
    /// frees its slot when it ends, so a slow job never holds back the jobs claimed with it;
    /// each lane has its own slots, so a backlog of image work never delays a notification and
    /// a burst of fan-outs never delays an image.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!(worker = %self.name, "worker started");
        let (finished, to_delete) = tokio::sync::mpsc::channel(FINISHED_QUEUE);
        self.finished = Some(finished);
        let jobs_finished = Arc::new(tokio::sync::Notify::new());
        let deleter = tokio::spawn(Self::delete_finished(
            self.app.store.clone(),
            self.name.clone(),
            to_delete,
            jobs_finished.clone(),
        ));
        let statistics = self.settings.refresh_statistics.then(|| {
            tokio::spawn(crate::statistics::keep_planner_statistics(
                self.app.store.clone(),
                jobs_finished,
            ))
        });
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let mut idle = true;
            let mut full = false;
            for (lane, lane_slots, capacity) in [
                (JobLane::Light, &self.light_slots, self.settings.light_slots),
                (JobLane::Heavy, &self.slots, self.settings.concurrency),
            ] {
                // Slots are taken before claiming, so every claimed job has one to run in.
                let slots: Vec<_> =
                    std::iter::from_fn(|| lane_slots.clone().try_acquire_owned().ok()).collect();
                // While a lane is busy it claims once a quarter of its slots are free, not once
                // per finished job: one claim query serves several short jobs.
                let busy = slots.len() < capacity.max(1);
                if slots.is_empty() || (busy && slots.len() < capacity.div_ceil(4)) {
                    full = true;
                    continue;
                }
                let claimed = self.claim(slots.len(), lane).await.unwrap_or_else(|err| {
                    tracing::error!(error = %err, "claiming jobs failed");
                    Vec::new()
                });
                idle &= claimed.is_empty();
                for (job, slot) in claimed.into_iter().zip(slots) {
                    let worker = self.clone();
                    running.spawn(async move {
                        worker.run_job(job).await;
                        drop(slot);
                    });
                }
            }
            if idle {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(self.settings.poll_interval) => {}
                    () = self.app.jobs_waiting.notified() => {}
                    Some(_) = running.join_next(), if full => {}
                }
            }
        }
        while running.join_next().await.is_some() {}
        // The last finished jobs are deleted before the worker says it stopped.
        self.finished = None;
        let _ = deleter.await;
        if let Some(statistics) = statistics {
            statistics.abort();
        }
        tracing::info!(worker = %self.name, "worker stopped");
    }

    async fn claim(&self, limit: usize, lane: JobLane) -> Result<Vec<ClaimedJob>, AppError> {
        Ok(self
            .app
            .store
            .claim_jobs(
                &self.name,
                OffsetDateTime::now_utc(),
                self.settings.lease,
                limit as u32,
                lane,
            )
            .await?)
    }

    /// Claims one batch of due jobs of each lane and runs them to their end; returns how many
    /// ran.
    pub async fn run_once(&self) -> Result<usize, AppError> {
        let mut jobs = self
            .claim(self.settings.light_slots, JobLane::Light)
            .await?;
        jobs.extend(
            self.claim(self.settings.concurrency, JobLane::Heavy)
                .await?,
        );
        let count = jobs.len();
        let runs = jobs.into_iter().map(|job| self.run_job(job));
        futures::future::join_all(runs).await;
        Ok(count)
    }

    /// Runs `job` within its deadline, extending its lease while it runs so that no other worker
    /// takes over a job that is slow but alive.
    async fn run_with_lease(&self, job: &ClaimedJob) -> Result<(), Retry> {
        let work = async {
            match job.kind.as_str() {
                PROCESS_MEDIA => self.process_media(&job.payload).await,
                DELETE_OBJECTS => self.delete_objects(&job.payload).await,
                FAN_OUT => self.fan_out(&job.payload).await,
                BUILD_TIMELINE => self.build_timeline(&job.payload).await,
                NOTIFY => self.notify(&job.payload).await,
                DELETE_ACCOUNT => self.delete_account(&job.payload).await,
                other => Err(Retry(format!("unknown job kind '{other}'"))),
            }
        };
        let keep_leased = async {
            let every = (self.settings.lease / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                let until = OffsetDateTime::now_utc() + self.settings.lease;
                match self
                    .app
                    .store
                    .extend_job_lease(job.id, &self.name, until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        // Taken over or finished elsewhere: nothing left to keep; the work ends
                        // on its own and its outcome is not recorded (it is not ours).
                        tracing::warn!(job = %job.id, "job no longer held by this worker");
                        std::future::pending::<()>().await;
                    }
                    Err(err) => {
                        tracing::warn!(job = %job.id, error = %err, "extending a lease failed")
                    }
                }
            }
        };
        let deadline = self.settings.job_timeout;
        tokio::select! {
            outcome = tokio::time::timeout(deadline, work) => outcome.unwrap_or_else(|_| {
                Err(Retry(format!("the job ran longer than {} s", deadline.as_secs())))
            }),
            () = keep_leased => Err(Retry("lease keeper stopped".into())),
        }
    }

    /// One claimed job, in a span of its own: its logs (and exported traces) carry its kind,
    /// id and attempt.
    async fn run_job(&self, job: ClaimedJob) {
        let span = tracing::info_span!(
            "job",
            kind = %job.kind,
            id = %job.id,
            attempt = job.attempt
        );
        self.run_claimed(job).instrument(span).await
    }

    async fn run_claimed(&self, job: ClaimedJob) {
        let started = Instant::now();
        let kind = job.kind.clone();
        if job.attempt > job.max_attempts {
            // Claimed again after its lease ran out once too often: its worker keeps dying on it.
            tracing::error!(job = %job.id, kind, "job lost its worker too often; it is dead");
            self.bury(&job).await;
            let recorded = self
                .app
                .store
                .fail_job(
                    job.id,
                    &self.name,
                    "its worker stopped before finishing, too often",
                    None,
                )
                .await;
            if let Err(err) = recorded {
                tracing::error!(job = %job.id, error = %err, "recording the dead job failed");
            }
            return;
        }
        metrics::counter!("picshare_job_attempts_total", "kind" => kind.clone()).increment(1);
        let outcome = self.run_with_lease(&job).await;
        metrics::histogram!("picshare_job_duration_seconds", "kind" => kind.clone())
            .record(started.elapsed().as_secs_f64());
        let store = &self.app.store;
        let recorded = match outcome {
            Ok(()) => self.finish(job.id).await,
            Err(Retry(error)) => {
                metrics::counter!("picshare_job_failures_total", "kind" => kind.clone())
                    .increment(1);
                let retry_at = (job.attempt < job.max_attempts)
                    .then(|| OffsetDateTime::now_utc() + self.backoff(job.attempt));
                if retry_at.is_none() {
                    tracing::error!(job = %job.id, kind, error, "job is dead after its last attempt");
                    self.bury(&job).await;
                } else {
                    tracing::warn!(job = %job.id, kind, error, attempt = job.attempt, "job failed; will retry");
                }
                store.fail_job(job.id, &self.name, &error, retry_at).await
            }
        };
        if let Err(err) = recorded {
            tracing::error!(job = %job.id, error = %err, "recording the job's outcome failed");
        }
    }

    /// Records a job done: through the batch deleter while `run` runs, else at once.
    async fn finish(&self, id: uuid::Uuid) -> picshare_store::StoreResult<()> {
        if let Some(finished) = &self.finished
            && finished.send(id).await.is_ok()
        {
            return Ok(());
        }
        self.app.store.complete_job(id, &self.name).await
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let exponent = attempt.clamp(1, 20) as u32 - 1;
        let delay = self
            .settings
            .retry_base
            .saturating_mul(1 << exponent.min(16))
            .min(Duration::from_secs(3600));
        delay.mul_f64(rand::rng().random_range(0.75..1.25))
    }

    /// A job that will never succeed: leave its subject in a final, explained state, with no
    /// objects behind.
    async fn bury(&self, job: &ClaimedJob) {
        if job.kind != PROCESS_MEDIA {
            return;
        }
        let Ok(ProcessMediaJob { media_id }) = serde_json::from_str(&job.payload) else {
            return;
        };
        if let Ok(Some(media)) = self.app.store.find_media(media_id).await {
            let reason = "the image could not be processed; please try again";
            if let Err(Retry(error)) = self.give_up(&media, reason).await {
                tracing::error!(media = %media_id, error, "cleaning up a dead upload failed");
            }
        }
    }

    /// Writes a new post into its author's followers' timelines (idempotent).
    async fn fan_out(&self, payload: &str) -> Result<(), Retry> {
        let FanOutJob { post_id } =
            serde_json::from_str(payload).map_err(|e| Retry(e.to_string()))?;
        let written = self.app.store.fan_out(post_id).await?;
        metrics::counter!("picshare_feed_fan_out_entries_total").increment(written);
        Ok(())
    }

    /// Records the notifications a cause calls for and tells their recipients (idempotent).
    async fn notify(&self, payload: &str) -> Result<(), Retry> {
        let job: NotifyJob = serde_json::from_str(payload).map_err(|e| Retry(e.to_string()))?;
        self.app.notify(job).await?;
        Ok(())
    }

    /// Fills a started timeline from the follow graph (idempotent).
    async fn build_timeline(&self, payload: &str) -> Result<(), Retry> {
        let BuildTimelineJob { user_id } =
            serde_json::from_str(payload).map_err(|e| Retry(e.to_string()))?;
        self.app
            .store
            .build_timeline(picshare_domain::UserId(user_id))
            .await?;
        Ok(())
    }

    /// Makes the variants of an uploaded image. Idempotent: variants have fixed keys, and media
    /// that is already ready, failed or deleted is left alone.
    async fn process_media(&self, payload: &str) -> Result<(), Retry> {
        let ProcessMediaJob { media_id } =
            serde_json::from_str(payload).map_err(|e| Retry(e.to_string()))?;
        let Some(media) = self.app.store.start_processing(media_id).await? else {
            return Ok(());
        };
        let id = media_id.to_string();
        let limit = self.app.media.max_upload_bytes;
        let bytes = match self.app.objects.get(&original_key(&id), limit).await {
            Ok(bytes) => bytes,
            Err(ObjectError::NotFound) => {
                self.app
                    .store
                    .fail_media(media_id, "the upload is missing")
                    .await?;
                return Ok(());
            }
            Err(ObjectError::TooLarge { .. }) => {
                return self
                    .give_up(&media, "the file is larger than the upload limit")
                    .await;
            }
            Err(err) => return Err(err.into()),
        };
        let purpose = match media.purpose {
            MediaPurpose::Post => Purpose::Post,
            MediaPurpose::Avatar => Purpose::Avatar,
        };
        let started = Instant::now();
        let permit = self
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Retry(e.to_string()))?;
        // The permit goes with the work: an image past its deadline keeps its CPU slot until its
        // thread really ends, so abandoned work never piles up beyond the pool.
        let work = tokio::task::spawn_blocking(move || {
            let result = picshare_media::process(&bytes, purpose);
            drop(permit);
            result
        });
        let deadline = self.app.media.processing_timeout;
        let result = match tokio::time::timeout(deadline, work).await {
            Ok(joined) => joined.map_err(|e| Retry(e.to_string()))?,
            Err(_) => {
                metrics::counter!("picshare_media_timeouts_total").increment(1);
                return self
                    .give_up(&media, "the image took too long to process")
                    .await;
            }
        };
        metrics::histogram!("picshare_media_processing_seconds")
            .record(started.elapsed().as_secs_f64());
        let processed = match result {
            Ok(processed) => processed,
            Err(reason) => return self.give_up(&media, &reason.to_string()).await,
        };
        let mut variants = Vec::with_capacity(processed.variants.len());
        for variant in processed.variants {
            let key = variant_key(&id, variant.name);
            self.app.objects.put(&key, variant.bytes).await?;
            variants.push(StoredVariant {
                name: variant.name.to_owned(),
                key,
                width: variant.width,
                height: variant.height,
                content_type: variant.content_type.to_owned(),
            });
        }
        let finished = self
            .app
            .store
            .finish_processing(
                media_id,
                &ProcessedMedia {
                    width: processed.width,
                    height: processed.height,
                    blurhash: processed.blurhash,
                    variants,
                },
            )
            .await?;
        if !finished && self.app.store.find_media(media_id).await?.is_none() {
            // Deleted while we worked: leave nothing behind. (Not finished but still there means
            // another run of this job got there first; its objects are the same ones.)
            self.remove_objects(&object_keys(&media)).await?;
        }
        Ok(())
    }

    /// The upload can never be processed: remove every object and record why.
    async fn give_up(&self, media: &picshare_domain::Media, reason: &str) -> Result<(), Retry> {
        self.remove_objects(&object_keys(media)).await?;
        self.app.store.fail_media(media.id, reason).await?;
        Ok(())
    }

    /// One step of a deleted account's removal (idempotent, resumable).
    async fn delete_account(&self, payload: &str) -> Result<(), Retry> {
        let step: DeleteAccountJob =
            serde_json::from_str(payload).map_err(|e| Retry(e.to_string()))?;
        self.app.purge_account(&step).await?;
        Ok(())
    }

    async fn delete_objects(&self, payload: &str) -> Result<(), Retry> {
        let DeleteObjectsJob { keys } =
            serde_json::from_str(payload).map_err(|e| Retry(e.to_string()))?;
        self.remove_objects(&keys).await
    }

    async fn remove_objects(&self, keys: &[String]) -> Result<(), Retry> {
        for key in keys {
            self.app.objects.delete(key).await?;
        }
        Ok(())
    }
}
