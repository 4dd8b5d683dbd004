//! The real binary in processes of their own, configured like a test instance, killed for real.

use picshare::config::RawConfig;

/// A `picshare` process, killed (SIGKILL) when dropped if still running.
pub struct Process {
    child: std::process::Child,
}

impl Process {
    /// Starts `picshare <subcommand>` with `config` as its `PICSHARE_*` environment, then `extra`.
    pub fn start(config: &RawConfig, subcommand: &str, extra: &[(&str, &str)]) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_picshare"));
        command.arg(subcommand).env_clear();
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
        Self {
            child: command.spawn().expect("start picshare"),
        }
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
