//! The real binary in processes of their own, configured like a test instance, killed for real.

use picshare::config::RawConfig;

/// A `picshare` process, killed (SIGKILL) when dropped if still running.
pub struct Process {
    child: std::process::Child,
}

/// `picshare <args>` with `config` as its `PICSHARE_*` environment, then `extra`.
fn command(config: &RawConfig, args: &[&str], extra: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_picshare"));
    command.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    let settings = serde_json::to_value(config).expect("config as JSON");
    for (name, value) in settings.as_object().expect("config is a map") {
        let value = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        command.env(format!("PICSHARE_{}", name.to_uppercase()), value);
    }
    for (name, value) in extra {
        command.env(name, value);
    }
    command
}

impl Process {
    /// Starts `picshare <subcommand>` with `config` as its `PICSHARE_*` environment, then `extra`.
    pub fn start(config: &RawConfig, subcommand: &str, extra: &[(&str, &str)]) -> Self {
        Self {
            child: command(config, &[subcommand], extra)
                .spawn()
                .expect("start picshare"),
        }
    }

    /// Runs `picshare <args>` to its end; whether it succeeded, and what it printed.
    pub async fn run(config: &RawConfig, args: &[&str]) -> (bool, String) {
        let mut command = tokio::process::Command::from(command(config, args, &[]));
        let output = command.output().await.expect("run picshare");
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success(), printed)
    }

    /// SIGTERM, then waits for the process to end: its shutdown code runs.
    pub fn terminate(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL: no shutdown code runs, as when a machine loses power or the OOM killer strikes.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
