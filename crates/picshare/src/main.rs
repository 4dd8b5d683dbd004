use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use picshare::config::Settings;
use picshare::startup::{self, ApiServer};
use picshare_app::users::SignUp;
use picshare_domain::Role;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "picshare",
    version,
    about = "PicShare: a photo-sharing social network backend"
)]
struct Cli {
    /// A TOML configuration file (environment variables PICSHARE_* override it).
    #[arg(long, global = true, env = "PICSHARE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API, background worker and scheduler in one process (the embedded shape).
    Serve,
    /// The HTTP API only (scaled shape).
    Api,
    /// Background work only (scaled shape).
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Run one batch job now.
    Batch {
        #[arg(value_enum)]
        job: BatchJob,
    },
    /// Administrative commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

impl Command {
    /// The process's role in logs and exported traces.
    fn role(&self) -> &'static str {
        match self {
            Command::Serve => "serve",
            Command::Api => "api",
            Command::Worker => "worker",
            Command::Migrate => "migrate",
            Command::Batch { .. } => "batch",
            Command::Admin { .. } => "admin",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum BatchJob {
    /// Recompute every follower, following, post, like and comment counter.
    Recount,
    /// Timeline entries of deleted posts, avatars of missing media, media stuck in processing.
    Repair,
    /// Delete refresh tokens past their expiry.
    CleanupTokens,
    /// Delete unused invites 30 days past their expiry or revocation.
    CleanupInvites,
    /// Delete uploads never completed before their expiry (and their bytes).
    CleanupUploads,
    /// Remove stored objects no media names (past the grace); report media missing theirs.
    Orphans,
    /// Cut every timeline back to its window.
    PruneTimelines,
}

impl From<BatchJob> for picshare_app::batch::BatchJob {
    fn from(job: BatchJob) -> Self {
        use picshare_app::batch::BatchJob as Job;
        match job {
            BatchJob::Recount => Job::Recount,
            BatchJob::Repair => Job::Repair,
            BatchJob::CleanupTokens => Job::CleanupTokens,
            BatchJob::CleanupInvites => Job::CleanupInvites,
            BatchJob::CleanupUploads => Job::CleanupUploads,
            BatchJob::Orphans => Job::Orphans,
            BatchJob::PruneTimelines => Job::PruneTimelines,
        }
    }
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account with a role (bypasses invite-only mode).
    CreateUser {
        #[arg(long)]
        handle: String,
        #[arg(long)]
        email: String,
        /// The password (or set PICSHARE_NEW_USER_PASSWORD).
        #[arg(long, env = "PICSHARE_NEW_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Moderator,
    User,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Moderator => Role::Moderator,
            RoleArg::User => Role::User,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let _telemetry = picshare::telemetry::init(&settings, cli.command.role())?;

    match cli.command {
        Command::Serve => {
            let app = startup::build_app(&settings).await?;
            tokio::spawn(startup::run_scheduler(app.clone()));
            let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
            let worker = tokio::spawn(startup::worker(&settings, app.clone()).run(async {
                let _ = worker_stopped.await;
            }));
            let served = serve_api(&settings, app).await;
            let _ = stop_worker.send(());
            let _ = worker.await;
            served
        }
        Command::Api => {
            let app = startup::build_app(&settings).await?;
            serve_api(&settings, app).await
        }
        Command::Worker => {
            let app = startup::build_app(&settings).await?;
            // Every worker schedules the batch jobs; each job runs in one of them at a time.
            tokio::spawn(startup::run_scheduler(app.clone()));
            startup::worker(&settings, app).run(shutdown_signal()).await;
            Ok(())
        }
        Command::Migrate => {
            let store = startup::connect_store(&settings).await?;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Batch { job } => {
            let app = startup::build_app(&settings).await?;
            let job = picshare_app::batch::BatchJob::from(job);
            match app.run_batch(job, &startup::batch_holder()).await? {
                None => println!(
                    "{}: another process is running it; nothing done",
                    job.name()
                ),
                Some(done) => {
                    println!(
                        "{}: found {}, fixed {}: {}",
                        job.name(),
                        done.found,
                        done.fixed,
                        done.detail
                    );
                    anyhow::ensure!(done.succeeded, "{} failed", job.name());
                }
            }
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    handle,
                    email,
                    password,
                    role,
                },
        } => {
            let app = startup::build_app(&settings).await?;
            let user = app
                .create_account_as_admin(
                    SignUp {
                        handle,
                        email,
                        password,
                        ..SignUp::default()
                    },
                    role.into(),
                )
                .await
                .map_err(|err| match err {
                    picshare_app::AppError::Validation(errors) => anyhow::anyhow!(
                        "{}",
                        errors
                            .errors
                            .iter()
                            .map(|e| format!("{} {}", e.field, e.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    other => anyhow::anyhow!("{other}"),
                })
                .context("creating the user")?;
            println!(
                "created user {} (@{}) with role {}",
                user.id,
                user.handle,
                user.role.as_str()
            );
            Ok(())
        }
    }
}

async fn serve_api(settings: &Settings, app: picshare_app::App) -> anyhow::Result<()> {
    let server = ApiServer::bind(settings, app).await?;
    tracing::info!(
        address = %server.local_addr()?,
        database = %redact(&settings.database_url),
        "PicShare is listening"
    );
    server.run(shutdown_signal()).await?;
    Ok(())
}

/// Hides a password in a database URL before it is logged.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
