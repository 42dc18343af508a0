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
    for key in [
        "STORAGE_EMULATOR_HOST",
        "RUST_LOG",
        "K_SERVICE",
        "CLOUD_RUN_JOB",
        "CLOUD_RUN_EXECUTION",
        "CLOUD_RUN_TASK_INDEX",
        "CLOUD_RUN_TASK_COUNT",
        "GOOGLE_CLOUD_PROJECT",
    ] {
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
    line.match_indices(open).filter_map(|(i, _)| line[i + open.len()..].split(']').next().map(str::to_string)).collect()
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

/// `duckhaul serve` as its own process on a free loopback port, on the bundled upstream.
pub struct Service {
    child: std::process::Child,
    pub base: String,
}

impl Service {
    pub fn start(dir: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Service {
        let port = free_port();
        let child = duckhaul()
            .env("DUCKHAUL_UPSTREAM_URL", "builtin")
            .env("DUCKHAUL_DATABASE", dir.join("duckhaul.duckdb"))
            .env("DUCKHAUL_DESTINATION", dir.join("exports"))
            .envs(env.iter().copied())
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while reqwest::blocking::get(format!("{base}/healthz")).is_err() {
            assert!(std::time::Instant::now() < deadline, "the service did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Service { child, base }
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let client = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(120)).build().unwrap();
        let response = client.post(format!("{}{path}", self.base)).json(&body).send().unwrap();
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
        response.json().unwrap()
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        reqwest::blocking::get(format!("{}{path}", self.base)).unwrap().json().unwrap()
    }

    /// SIGTERM, then waits for the process to end (and release the database).
    pub fn stop(mut self) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command that should end by itself, killing it if it has not after two minutes
/// (a serve that should have refused to start would otherwise hang the test).
pub fn output_within_2_minutes(cmd: &mut Command) -> std::process::Output {
    use std::io::Read;
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let stderr = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within two minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}
