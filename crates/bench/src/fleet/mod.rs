//! Drives a fleet started by `scripts/fleet`: fault scenarios (processes killed and
//! dependencies stopped under load) and a soak. Processes are stopped and started through the
//! script, so what dies is a real process.

pub mod api;
pub mod faults;
pub mod load;
pub mod soak;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// `scripts/fleet`, for stopping, killing and starting the fleet's processes.
#[derive(Clone)]
pub struct Fleet {
    pub script: PathBuf,
}

impl Fleet {
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(&self.script)
            .args(args)
            .output()
            .with_context(|| format!("running {} {args:?}", self.script.display()))?;
        if !output.status.success() {
            bail!(
                "{} {args:?} failed: {}",
                self.script.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    pub fn kill(&self, name: &str) -> anyhow::Result<()> {
        self.run(&["kill", name]).map(drop)
    }

    pub fn stop(&self, name: &str) -> anyhow::Result<()> {
        self.run(&["stop", name]).map(drop)
    }

    pub fn start(&self, name: &str) -> anyhow::Result<()> {
        self.run(&["start", name]).map(drop)
    }

    /// Name, role and process id of every running process (one `scripts/fleet status`).
    pub fn running(&self) -> anyhow::Result<Vec<(String, String, u32)>> {
        let status = self.run(&["status"])?;
        Ok(status
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                match fields.as_slice() {
                    [name, role, pid, "running"] => {
                        Some(((*name).to_owned(), (*role).to_owned(), pid.parse().ok()?))
                    }
                    _ => None,
                }
            })
            .collect())
    }

    /// Established connections of clients to `port` that the process named `name` holds.
    pub fn connections(&self, name: &str, port: u16) -> anyhow::Result<usize> {
        let Some((_, _, pid)) = self.running()?.into_iter().find(|(n, _, _)| n == name) else {
            bail!("{name} is not running");
        };
        let output = Command::new("ss")
            .args(["-Htnp", "state", "established"])
            .arg(format!("( sport = :{port} )"))
            .output()?;
        let needle = format!("pid={pid},");
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.contains(&needle))
            .count())
    }

    /// `picshare batch <job>` against the fleet's database; how many inconsistencies it fixed.
    pub fn batch_fixed(&self, job: &str) -> anyhow::Result<u64> {
        let printed = self.run(&["run", "batch", job])?;
        // "<job>: found F, fixed N: …"
        printed
            .split("fixed ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("batch {job} printed {printed:?}"))
    }
}

/// Resident memory of a process, in bytes (Linux).
pub fn resident(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}
