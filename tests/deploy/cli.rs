//! Running the built binary and reading its `--help`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_duckhaul");

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with no DUCKHAUL_* setting inherited from the test's environment.
pub fn duckhaul() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("DUCKHAUL_") && key != "DUCKHAUL_TEST_PYTHON" && key != "DUCKHAUL_FAKE_GCS_BIN" {
            cmd.env_remove(key);
        }
    }
    for key in ["STORAGE_EMULATOR_HOST", "RUST_LOG", "K_SERVICE", "CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "GOOGLE_CLOUD_PROJECT"] {
        cmd.env_remove(key);
    }
    cmd
}

/// What one `--help` page declares.
#[derive(Debug, Default)]
pub struct Help {
    /// Subcommands (without `help`).
    pub commands: BTreeSet<String>,
    /// Long flags, with their leading `--`.
    pub flags: BTreeSet<String>,
    /// Environment variables, each with the flag it sets.
    pub envs: BTreeMap<String, String>,
    /// Defaults by flag.
    pub defaults: BTreeMap<String, String>,
}

/// Parses `duckhaul ARGS --help`.
pub fn help(args: &[&str]) -> Help {
    let output = duckhaul().args(args).arg("--help").output().unwrap();
    assert!(output.status.success(), "duckhaul {args:?} --help failed");
    parse_help(&String::from_utf8(output.stdout).unwrap())
}

fn parse_help(text: &str) -> Help {
    let mut help = Help::default();
    let mut in_commands = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            match trimmed.split_whitespace().next() {
                Some(name) if !line.is_empty() && line.starts_with("  ") => {
                    if name != "help" {
                        help.commands.insert(name.to_string());
                    }
                    continue;
                }
                _ => in_commands = false,
            }
        }
        if trimmed.starts_with('-') {
            current = trimmed
                .split(|c: char| c.is_whitespace() || c == ',')
                .find(|t| t.starts_with("--"))
                .map(|t| t.to_string());
            if let Some(flag) = &current {
                help.flags.insert(flag.clone());
            }
        }
        let Some(flag) = &current else { continue };
        for env in bracketed(line, "[env: ") {
            help.envs.insert(env.split('=').next().unwrap().to_string(), flag.clone());
        }
        for default in bracketed(line, "[default: ") {
            help.defaults.insert(flag.clone(), default);
        }
    }
    help
}

fn bracketed(line: &str, open: &str) -> Vec<String> {
    line.match_indices(open)
        .filter_map(|(i, _)| line[i + open.len()..].split(']').next().map(str::to_string))
        .collect()
}

pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
