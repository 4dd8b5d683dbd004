//! `picshare-bench`: generates a deterministic feed dataset and times the home feed read path
//! against the naive query of the original design, on the same data, users and pages.
//!
//! ```text
//! picshare-bench generate --database-url sqlite://bench.db --size small
//! picshare-bench baseline --database-url sqlite://bench.db --size small
//! picshare-bench realtime --url http://127.0.0.1:8080 --database-url … --token-key-file …
//! picshare-bench limits --label on --url http://127.0.0.1:8080 --database-url … --out runs.jsonl
//! picshare-bench search --url http://127.0.0.1:8080 --database-url …
//! ```

mod accounts;
mod burst;
mod dataset;
mod driver;
mod fair_writer;
mod fanout;
mod fleet;
mod lifecycle;
mod limits;
mod load;
mod realtime;
mod search;
mod words;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use picshare_domain::UserId;
use picshare_store::{PageRequest, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "picshare-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the schema in an empty database and load a generated dataset.
    Generate {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value = "small")]
        size: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Drive a running server (started on the generated database) with the feed scenarios.
    Load {
        /// Base URL of the server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "small")]
        size: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 10)]
        duration_secs: u64,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Run only these scenarios (comma-separated names); all by default.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Skip the check that a new post by the hot author reaches all its followers' feeds.
        #[arg(long)]
        no_fan_out_check: bool,
    },
    /// Sockets across running API instances, messages between random pairs at a fixed rate,
    /// then follows as fast as the API takes them: delivery latency, loss, memory per socket and
    /// notifications per second (scripts/bench-realtime starts the servers).
    Realtime {
        /// Base URL of each API instance (repeat the flag).
        #[arg(long, required = true)]
        url: Vec<String>,
        /// The instances' database, where the benchmark's accounts are made.
        #[arg(long)]
        database_url: String,
        /// The instances' token signing key, to sign the accounts' access tokens.
        #[arg(long)]
        token_key_file: std::path::PathBuf,
        /// The instances' public URL (the tokens' issuer).
        #[arg(long)]
        public_url: String,
        #[arg(long, default_value_t = 2000)]
        sockets: usize,
        /// Messages per second.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        #[arg(long, default_value_t = 60)]
        duration_secs: u64,
        /// Process ids of the instances, for resident memory per socket (repeat the flag).
        #[arg(long)]
        pid: Vec<u32>,
        /// Follows made for the notification queue phase.
        #[arg(long, default_value_t = 20_000)]
        follows: usize,
        /// Seconds of the fan-out burst phase (0 skips it).
        #[arg(long, default_value_t = 60)]
        burst_secs: u64,
        /// Followers of the bursting author, each with a timeline.
        #[arg(long, default_value_t = 2000)]
        burst_followers: usize,
        /// The bursting author's posts per second.
        #[arg(long, default_value_t = 10)]
        burst_rate: u32,
        /// Likes per second between other users during the burst.
        #[arg(long, default_value_t = 20)]
        likes_rate: u32,
    },
    /// Likes (a limited route) against running API instances, and optionally the feed during a
    /// login flood; appends the figures to `--out` (scripts/bench-limits alternates servers with
    /// limits off and on, then runs `limits-report`).
    Limits {
        /// How the servers run: `off` or `on` (recorded with the figures).
        #[arg(long)]
        label: String,
        /// Base URL of each API instance (repeat the flag).
        #[arg(long, required = true)]
        url: Vec<String>,
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        token_key_file: std::path::PathBuf,
        #[arg(long)]
        public_url: String,
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long, default_value_t = 20)]
        posts: usize,
        #[arg(long, default_value_t = 10)]
        duration_secs: u64,
        #[arg(long, value_delimiter = ',', default_value = "1,32")]
        concurrency: Vec<usize>,
        /// Failed logins per second from random addresses while the feed is read (0: skip).
        #[arg(long, default_value_t = 0)]
        flood_rate: u32,
        /// File the run's figures are appended to, one JSON document per line.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Compares the runs `limits` recorded.
    LimitsReport {
        #[arg(long)]
        input: std::path::PathBuf,
    },
    /// Each kind of search through a running server (one request at a time) against the naive
    /// `ILIKE` / bounding-box query on its database (a dataset from `generate`).
    Search {
        /// Base URL of the server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Requests per kind of search.
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Only the kinds of search whose name starts with this (e.g. `users`).
        #[arg(long, default_value = "")]
        only: String,
    },
    /// Export an account of up to 1,000 posts and delete the heaviest one through a running
    /// server: time, the server's memory, other users' feed latency (scripts/bench-lifecycle).
    Lifecycle {
        /// Base URL of the server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        /// The server's process id (its memory is sampled from /proc).
        #[arg(long)]
        server_pid: u32,
        /// The server's local media directory: stand-in originals are written there.
        #[arg(long)]
        media_dir: Option<std::path::PathBuf>,
        /// Feed reads in flight at once while the deletion runs (and idle before it).
        #[arg(long, default_value_t = 4)]
        reads_at_once: usize,
    },
    /// A user's likes while an author with many followers posts as fast as one client can,
    /// against the same likes with nobody posting (scripts/bench-writer starts the server).
    FairWriter {
        /// Base URL of the server; also its public URL (the tokens' issuer).
        #[arg(long)]
        url: String,
        #[arg(long)]
        database_url: String,
        /// The server's token signing key, to sign the accounts' access tokens.
        #[arg(long)]
        token_key_file: std::path::PathBuf,
        #[arg(long, default_value_t = 2000)]
        followers: usize,
        /// Likes per second, one at a time.
        #[arg(long, default_value_t = 50)]
        likes_rate: u32,
        /// Seconds of each phase.
        #[arg(long, default_value_t = 20)]
        phase_secs: u64,
    },
    /// Fault scenarios against a fleet started by `scripts/fleet` (scripts/fleet-faults).
    Faults {
        /// The fleet's base URL.
        #[arg(long)]
        url: String,
        /// The fleet script, to kill, stop and start its processes.
        #[arg(long, default_value = "scripts/fleet")]
        fleet: std::path::PathBuf,
        /// The fleet's PICSHARE_JOB_LEASE_SECS.
        #[arg(long, default_value_t = 5)]
        job_lease_secs: u64,
    },
    /// A bounded mixed load against a fleet started by `scripts/fleet` (scripts/fleet-soak).
    Soak {
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "scripts/fleet")]
        fleet: std::path::PathBuf,
        #[arg(long, default_value_t = 600)]
        duration_secs: u64,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Largest allowed growth of a process's resident memory after warm-up, in percent.
        #[arg(long, default_value_t = 10.0)]
        max_growth_percent: f64,
    },
    /// Time the feed read path against the naive query (same dataset arguments as generate).
    Baseline {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value = "small")]
        size: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Requests per scenario.
        #[arg(long, default_value_t = 30)]
        samples: usize,
    },
}

/// Fixed "now" so that datasets are identical across runs.
const NOW_SECS: u64 = 1_795_000_000;

async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(picshare_store_sqlite::SqliteStore::connect(url, 4).await?)
    } else {
        Arc::new(picshare_store_pg::PgStore::connect(url, 4).await?)
    };
    store.migrate().await?;
    Ok(store)
}

fn base_urls(urls: &[String]) -> Vec<String> {
    urls.iter()
        .map(|url| url.trim_end_matches('/').to_owned())
        .collect()
}

/// Signs access tokens as the servers under test do (their key file and public URL).
fn bench_tokens(
    key_file: &std::path::Path,
    public_url: &str,
) -> anyhow::Result<picshare_app::TokenService> {
    let key = picshare_app::tokens::load_or_create_signing_key(key_file)?;
    Ok(picshare_app::TokenService::new(
        &key,
        public_url.to_owned(),
        format!("{public_url}/v1"),
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    )?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate {
            database_url,
            size,
            seed,
        } => {
            let started = Instant::now();
            let data = dataset::generate(&dataset::size(&size)?, seed, NOW_SECS);
            println!(
                "generated {} users, {} follows, {} posts in {:.1} s",
                data.users.len(),
                data.follows.len(),
                data.posts.len(),
                started.elapsed().as_secs_f64()
            );
            let store = open_store(&database_url).await?;
            let hasher = picshare_app::PasswordHasherPool::new(1, 1)?;
            let hash = hasher.hash("benchmark password").await?;
            if database_url.starts_with("sqlite:") {
                // A bulk load need not survive a power cut: no fsync per batch.
                let options = database_url
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Off);
                let pool = sqlx::SqlitePool::connect_with(options).await?;
                load::sqlite(&pool, &data, &hash).await?;
            } else {
                let pool = sqlx::PgPool::connect(&database_url).await?;
                load::postgres(&pool, &data, &hash).await?;
            }
            let fixed = store.recount(5_000).await?;
            println!("counters set for {fixed} rows");
            println!(
                "heavy user: {}; inactive-followees user: {}; password: \"benchmark password\"",
                load::handle_of(data.heavy[0]),
                load::handle_of(data.inactive_follower)
            );
            Ok(())
        }
        Command::Load {
            url,
            size,
            seed,
            duration_secs,
            concurrency,
            json,
            only,
            no_fan_out_check,
        } => {
            let data = dataset::generate(&dataset::size(&size)?, seed, NOW_SECS);
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(concurrency.max(1))
                .build()?;
            let mut rng = StdRng::seed_from_u64(seed ^ 0x10ad);
            let mixed: Vec<usize> = (0..200)
                .map(|_| rng.random_range(0..data.users.len()))
                .collect();
            let base = url.trim_end_matches('/');
            let hot_author =
                driver::token(&client, base, &load::handle_of(data.hot_author)).await?;
            // Earlier runs used the first spare uploads, one per post beyond the generated ones.
            let profile: serde_json::Value = client
                .get(format!(
                    "{base}/v1/users/@{}",
                    load::handle_of(data.hot_author)
                ))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let generated = data
                .posts
                .iter()
                .filter(|(author, _)| *author == data.hot_author)
                .count();
            let used = profile["posts_count"].as_u64().unwrap_or(0) as usize;
            let maker = Arc::new(driver::PostMaker {
                token: hot_author,
                media: data.spare_media.clone(),
                next: used.saturating_sub(generated).into(),
            });
            // Followers read their feeds first, so the new posts reach them by fan-out.
            let followers = if no_fan_out_check {
                None
            } else {
                Some(fanout::prepare(&client, base, &data).await?)
            };
            let scenarios = driver::scenarios(&client, base, &data, &mixed, maker.clone()).await?;
            let mut outcomes = Vec::new();
            for scenario in &scenarios {
                if !only.is_empty() && !only.iter().any(|name| name == scenario.name) {
                    continue;
                }
                driver::warm(&client, base, scenario).await?;
                fanout::feed_jobs_drained(&client, base, Duration::from_secs(600)).await?;
                let duration = Duration::from_secs(duration_secs);
                outcomes.push(driver::run(&client, base, scenario, duration, concurrency).await?);
            }
            let visibility = match &followers {
                Some(followers) => Some(fanout::check(&client, base, followers, &maker).await?),
                None => None,
            };
            if json {
                let report = serde_json::json!({
                    "scenarios": driver::to_json(&outcomes, concurrency),
                    "new_post_visible_to_followers": visibility.as_ref().map(fanout::to_json),
                });
                println!("{report}");
            } else {
                driver::print_table(&outcomes, concurrency);
                if let Some(visibility) = &visibility {
                    fanout::print_line(visibility);
                }
            }
            Ok(())
        }
        Command::Realtime {
            url,
            database_url,
            token_key_file,
            public_url,
            sockets,
            rate,
            duration_secs,
            pid,
            follows,
            burst_secs,
            burst_followers,
            burst_rate,
            likes_rate,
        } => {
            let store = open_store(&database_url).await?;
            let tokens = bench_tokens(&token_key_file, &public_url)?;
            let setup = realtime::Setup {
                urls: base_urls(&url),
                database_url: database_url.clone(),
                sockets,
                rate: rate.max(1),
                duration: Duration::from_secs(duration_secs),
                pids: pid,
                follows,
                burst: (burst_secs > 0).then(|| burst::Burst {
                    followers: burst_followers,
                    rate: burst_rate,
                    duration: Duration::from_secs(burst_secs),
                    likes_rate,
                }),
            };
            let report = realtime::run(store, tokens, setup).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Limits {
            label,
            url,
            database_url,
            token_key_file,
            public_url,
            users,
            posts,
            duration_secs,
            concurrency,
            flood_rate,
            out,
        } => {
            let store = open_store(&database_url).await?;
            let tokens = bench_tokens(&token_key_file, &public_url)?;
            let setup = limits::Setup {
                urls: base_urls(&url),
                database_url,
                label,
                users,
                posts,
                duration: Duration::from_secs(duration_secs),
                concurrency,
                flood_rate,
            };
            let report = limits::run(store, tokens, setup).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&out)?;
            writeln!(file, "{report}")?;
            Ok(())
        }
        Command::LimitsReport { input } => limits::report(&input),
        Command::Search {
            url,
            database_url,
            seed,
            samples,
            only,
        } => {
            let url = url.trim_end_matches('/');
            search::run(url, &database_url, seed, samples, &only).await
        }
        Command::Lifecycle {
            url,
            database_url,
            server_pid,
            media_dir,
            reads_at_once,
        } => {
            lifecycle::run(
                url.trim_end_matches('/'),
                &database_url,
                server_pid,
                media_dir,
                reads_at_once,
            )
            .await
        }
        Command::FairWriter {
            url,
            database_url,
            token_key_file,
            followers,
            likes_rate,
            phase_secs,
        } => {
            let url = url.trim_end_matches('/');
            let store = open_store(&database_url).await?;
            let tokens = bench_tokens(&token_key_file, url)?;
            let settings = fair_writer::Settings {
                followers,
                likes_rate,
                phase: Duration::from_secs(phase_secs),
            };
            let client = accounts::client()?;
            fair_writer::run(&client, &store, &tokens, url, &database_url, &settings).await
        }
        Command::Faults {
            url,
            fleet,
            job_lease_secs,
        } => {
            fleet::faults::run(fleet::faults::Settings {
                url,
                fleet: fleet::Fleet { script: fleet },
                job_lease: Duration::from_secs(job_lease_secs),
            })
            .await
        }
        Command::Soak {
            url,
            fleet,
            duration_secs,
            concurrency,
            max_growth_percent,
        } => {
            fleet::soak::run(fleet::soak::Settings {
                url,
                fleet: fleet::Fleet { script: fleet },
                duration: Duration::from_secs(duration_secs),
                concurrency,
                max_growth: max_growth_percent / 100.0,
            })
            .await
        }
        Command::Baseline {
            database_url,
            size,
            seed,
            samples,
        } => {
            let data = dataset::generate(&dataset::size(&size)?, seed, NOW_SECS);
            let store = open_store(&database_url).await?;
            let naive = Naive::connect(&database_url).await?;
            let heavy = data.users[data.heavy[0]];
            if store
                .find_user(&picshare_domain::UserLookup::Id(UserId(heavy)))
                .await?
                .is_none()
            {
                anyhow::bail!(
                    "this database does not hold the dataset of --size {size} --seed {seed}"
                );
            }
            let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
            let mixed: Vec<Uuid> = (0..samples)
                .map(|_| data.users[rng.random_range(0..data.users.len())])
                .collect();
            println!(
                "| scenario | read path p50 / p99 ms | naive query p50 / p99 ms | naive ÷ read path (p50) |"
            );
            println!("|---|---|---|---|");
            for (name, users, page) in [
                (
                    "first page, heaviest user",
                    vec![data.users[data.heavy[0]]; samples],
                    1,
                ),
                (
                    "first page, inactive followees",
                    vec![data.users[data.inactive_follower]; samples],
                    1,
                ),
                (
                    "page 50, heaviest user",
                    vec![data.users[data.heavy[0]]; samples.min(5)],
                    50,
                ),
                (
                    "page 50, inactive followees",
                    vec![data.users[data.inactive_follower]; samples.min(5)],
                    50,
                ),
                ("first page, mixed users", mixed.clone(), 1),
            ] {
                let read_path = |user: Uuid, after: Option<Uuid>| {
                    let store = store.clone();
                    async move {
                        let page = store
                            .home_feed(UserId(user), PageRequest { after, limit: 20 })
                            .await?;
                        anyhow::Ok(page.next)
                    }
                };
                // Both give the same pages, so the walk to page `page` uses the read path
                // (untimed) and only the page itself is timed each way.
                let mut starts = Vec::with_capacity(users.len());
                for &user in &users {
                    let mut cursor = None;
                    for _ in 1..page {
                        cursor = read_path(user, cursor).await?;
                    }
                    starts.push((user, cursor));
                }
                let ours = time_pages(&starts, read_path).await?;
                let theirs = time_pages(&starts, |user, after| naive.page(user, after)).await?;
                println!(
                    "| {name} | {} | {} | {:.1}× |",
                    stats(&ours),
                    stats(&theirs),
                    percentile(&theirs, 50).as_secs_f64()
                        / percentile(&ours, 50).as_secs_f64().max(1e-9)
                );
            }
            Ok(())
        }
    }
}

/// Times one page per (user, start).
async fn time_pages<F, Fut>(
    starts: &[(Uuid, Option<Uuid>)],
    fetch: F,
) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(Uuid, Option<Uuid>) -> Fut,
    Fut: Future<Output = anyhow::Result<Option<Uuid>>>,
{
    let mut times = Vec::with_capacity(starts.len());
    for &(user, cursor) in starts {
        let started = Instant::now();
        fetch(user, cursor).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn stats(sorted: &[Duration]) -> String {
    format!(
        "{:.2} / {:.2}",
        percentile(sorted, 50).as_secs_f64() * 1000.0,
        percentile(sorted, 99).as_secs_f64() * 1000.0
    )
}

/// The original design's query: the viewer's posts or their followees', no block either way,
/// newest first, 20 at a time (keyed by post id, which orders like `created_at`).
enum Naive {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

const NAIVE_SQLITE: &str = "SELECT id FROM posts
     WHERE (author_id = ?1 OR (author_id IN (SELECT followee_id FROM follows WHERE follower_id = ?1)
            AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = ?1 AND b.blocked_id = posts.author_id)
                                                      OR (b.blocker_id = posts.author_id AND b.blocked_id = ?1))))
       AND id < ?2
     ORDER BY created_at DESC LIMIT 20";

impl Naive {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(if url.starts_with("sqlite:") {
            Naive::Sqlite(sqlx::SqlitePool::connect(url).await?)
        } else {
            Naive::Postgres(sqlx::PgPool::connect(url).await?)
        })
    }

    async fn page(&self, user: Uuid, after: Option<Uuid>) -> anyhow::Result<Option<Uuid>> {
        let after = after.unwrap_or(Uuid::max());
        let ids: Vec<Uuid> = match self {
            Naive::Sqlite(pool) => {
                sqlx::query_scalar(NAIVE_SQLITE)
                    .bind(user)
                    .bind(after)
                    .fetch_all(pool)
                    .await?
            }
            Naive::Postgres(pool) => {
                let sql = NAIVE_SQLITE.replace("?1", "$1").replace("?2", "$2");
                sqlx::query_scalar(&sql)
                    .bind(user)
                    .bind(after)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(ids.last().copied())
    }
}
