//! Argon2id hashing on a bounded pool: a few hashes run at once, a bounded number wait, and
//! anything beyond that is refused rather than queued without end. New hashes (sign-ups,
//! password changes) have a lane of their own with at most half the workers and a quarter of the
//! places, so a sign-up flood cannot crowd out the logins of people who already have accounts.
//! The pool's threads run at a lower CPU priority than the request handlers, so a login flood
//! slows logins rather than every other request.
//! Each pool thread keeps its Argon2 memory for the next hash: a 19 MiB allocation per hash came
//! and went with the allocator's timing (resident memory swung by 40 MiB in the fleet soak), and
//! every hash paid for faulting its pages in.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use tokio::sync::Semaphore;

use crate::{AppError, AppResult};

/// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

pub struct PasswordHasherPool {
    argon2: Argon2<'static>,
    running: Arc<Semaphore>,
    /// Places for verifications (logins).
    admitted: Arc<Semaphore>,
    /// Places, and workers, new hashes may take.
    hashes_admitted: Arc<Semaphore>,
    hashes_running: Arc<Semaphore>,
    /// Verified against when a login names no account, so both answers take as long.
    dummy_hash: String,
    verifications: AtomicU64,
    threads: HashThreads,
}

/// A job gets the Argon2 memory of the thread that runs it.
type HashJob = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The threads Argon2 runs on, niced (Linux: `nice` is per thread).
struct HashThreads {
    jobs: mpsc::SyncSender<HashJob>,
}

/// How much less CPU a hashing thread gets than a request handler when both want it (nice 19,
/// the lowest: about 1/70); idle cores still run hashes at full speed.
const HASH_THREAD_NICENESS: i32 = 19;

impl HashThreads {
    fn start(workers: usize) -> AppResult<Self> {
        let (jobs, waiting) = mpsc::sync_channel::<HashJob>(workers);
        let waiting = Arc::new(Mutex::new(waiting));
        for n in 0..workers {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("picshare-argon2-{n}"))
                .spawn(move || {
                    lower_own_priority();
                    // Grown by the first hash, then reused by every later one.
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        // The lock is held only to take one job; ends when the pool is dropped.
                        let job = match waiting.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking job drops its sender (its caller gets an error),
                            // and the thread lives on for the next.
                            Ok(job) => {
                                let ran =
                                    std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
                                if ran.is_err() {
                                    tracing::error!("a password hashing job panicked");
                                }
                            }
                            Err(_) => return,
                        }
                    }
                })
                .map_err(AppError::internal)?;
        }
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> AppResult<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move |memory| {
            let _ = done.send(work(memory));
        });
        self.jobs
            .try_send(job)
            .map_err(|_| AppError::Unavailable("too many password checks in progress"))?;
        result
            .await
            .map_err(|_| AppError::Unavailable("password hashing failed"))
    }
}

#[cfg(target_os = "linux")]
fn lower_own_priority() {
    // SAFETY: setpriority only changes the scheduling priority of the calling thread (who = 0);
    // it reads and writes no memory of ours.
    let changed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HASH_THREAD_NICENESS) };
    if changed != 0 {
        tracing::warn!("could not lower the password hashing threads' priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_own_priority() {}

impl PasswordHasherPool {
    /// `workers` hashes run in parallel; up to `queue` more may wait.
    pub fn new(workers: usize, queue: usize) -> AppResult<Self> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|_| AppError::Unavailable("invalid Argon2 parameters"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_with(
            &argon2,
            "picshare-dummy-password-for-timing",
            &mut Vec::new(),
        )?;
        let workers = workers.max(1);
        Ok(Self {
            argon2,
            running: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers + queue)),
            hashes_admitted: Arc::new(Semaphore::new(((workers + queue) / 4).max(1))),
            hashes_running: Arc::new(Semaphore::new((workers / 2).max(1))),
            dummy_hash,
            verifications: AtomicU64::new(0),
            threads: HashThreads::start(workers)?,
        })
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        let _admitted = self
            .hashes_admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::Unavailable("too many new passwords are being set"))?;
        let _lane = self
            .hashes_running
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        self.execute(move |memory| hash_with(&argon2, &password, memory))
            .await?
    }

    /// Checks `password` against `stored_hash`, or against a dummy hash when there is no account.
    pub async fn verify(&self, password: &str, stored_hash: Option<&str>) -> AppResult<bool> {
        let password = password.to_owned();
        let (hash, is_real) = match stored_hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matched = self
            .run_verification(move |memory| {
                PasswordHash::new(&hash)
                    .map(|parsed| verify_with(password.as_bytes(), &parsed, memory))
                    .unwrap_or(false)
            })
            .await?;
        Ok(matched && is_real)
    }

    /// How many verifications ran, dummy ones included.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    async fn run_verification<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> AppResult<T> {
        let _admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::Unavailable("too many password checks in progress"))?;
        self.execute(work).await
    }

    async fn execute<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> AppResult<T> {
        let _running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        self.threads.run(work).await
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str, memory: &mut Vec<Block>) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    let failed = |_| AppError::Unavailable("password hashing failed");
    let salt = Salt::from(&salt);
    let output = compute(argon2, password.as_bytes(), salt, memory).map_err(failed)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(failed)?,
        salt: Some(salt),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` gives `stored`, computed with the parameters `stored` names.
fn verify_with(password: &[u8], stored: &PasswordHash<'_>, memory: &mut Vec<Block>) -> bool {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let argon2 = match (
        Algorithm::try_from(stored.algorithm),
        stored.version.map(Version::try_from).transpose(),
        Params::try_from(stored),
    ) {
        (Ok(algorithm), Ok(version), Ok(params)) => {
            Argon2::new(algorithm, version.unwrap_or_default(), params)
        }
        _ => return false,
    };
    // `Output`'s equality is constant-time.
    compute(&argon2, password, salt, memory).is_ok_and(|computed| computed == expected)
}

/// The raw Argon2 output for `password` and `salt`, in `memory` (grown when too small).
fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: Salt<'_>,
    memory: &mut Vec<Block>,
) -> argon2::password_hash::Result<Output> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let blocks = argon2.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let output_len = argon2
        .params()
        .output_len()
        .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    Output::init_with(output_len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..blocks])
            .map_err(Into::into)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_that_panics_fails_alone_and_its_thread_takes_the_next() {
        let threads = HashThreads::start(1).unwrap();
        let panicked = threads.run(|_| -> u8 { panic!("a broken hasher") }).await;
        assert!(matches!(panicked, Err(AppError::Unavailable(_))));
        assert_eq!(threads.run(|_| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn hashes_with_argon2id_at_owasp_minimum_and_verifies() {
        let pool = PasswordHasherPool::new(1, 4).unwrap();
        let hash = pool.hash("correct horse battery").await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            pool.verify("correct horse battery", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !pool
                .verify("wrong horse battery", Some(&hash))
                .await
                .unwrap()
        );
    }

    /// Accounts made before the pool kept its own memory still log in, and the reverse.
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_hasher_both_ways() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let pool = PasswordHasherPool::new(1, 4).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let earlier = pool
            .argon2
            .hash_password(b"an older password", &salt)
            .unwrap();
        let earlier = earlier.to_string();
        assert!(
            pool.verify("an older password", Some(&earlier))
                .await
                .unwrap()
        );
        assert!(
            !pool
                .verify("an older passwore", Some(&earlier))
                .await
                .unwrap()
        );

        let ours = pool.hash("a newer password").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            pool.argon2
                .verify_password(b"a newer password", &parsed)
                .is_ok()
        );
        assert!(
            pool.argon2
                .verify_password(b"a newer passwore", &parsed)
                .is_err()
        );
    }

    #[tokio::test]
    async fn unknown_account_still_costs_one_verification_and_never_matches() {
        let pool = PasswordHasherPool::new(1, 4).unwrap();
        let before = pool.verifications();
        assert!(
            !pool
                .verify("picshare-dummy-password-for-timing", None)
                .await
                .unwrap()
        );
        assert_eq!(pool.verifications(), before + 1);
    }

    #[tokio::test]
    async fn refuses_work_beyond_the_queue_bound() {
        let pool = Arc::new(PasswordHasherPool::new(1, 0).unwrap());
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.hash("a long enough password").await })
        };
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let refused = pool.hash("another long password").await;
        assert!(matches!(refused, Err(AppError::Unavailable(_))));
        assert!(busy.await.unwrap().is_ok());
    }
}
