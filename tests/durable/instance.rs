//! The pieces of a Cloud Run deployment, for real: `duckhaul serve` processes that are lost
//! (SIGKILL, data folder deleted) and replaced by fresh ones, the bundled Faker server in its
//! own process behind a counting proxy, and the destination (fake-gcs-server, or a folder).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::gcs::FakeGcs;
use crate::proxy::Proxy;

pub const BIN: &str = env!("CARGO_BIN_EXE_duckhaul");

/// Generous: two cores shared with other test runs.
pub const LONG: Duration = Duration::from_secs(300);

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `ready` until it holds; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The binary with no setting inherited from the test's environment.
pub fn duckhaul() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("DUCKHAUL_") || key.starts_with("CLOUD_RUN_") {
            cmd.env_remove(key);
        }
    }
    for key in ["STORAGE_EMULATOR_HOST", "RUST_LOG", "K_SERVICE", "GOOGLE_CLOUD_PROJECT"] {
        cmd.env_remove(key);
    }
    cmd.env("DUCKHAUL_UPSTREAM_RATE_LIMIT", "0");
    cmd
}

/// The bundled Faker server, slowed by `latency_ms` a page, behind a proxy that counts pages.
pub struct Upstream {
    child: Child,
    pub proxy: Proxy,
}

impl Upstream {
    pub fn start(latency_ms: u64) -> Upstream {
        let port = free_port();
        let child = duckhaul()
            .args(["fake-api", "--listen", &format!("127.0.0.1:{port}"), "--latency-ms", &latency_ms.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proxy = Proxy::start(&format!("http://127.0.0.1:{port}"));
        let probe = format!("{}/api/v2/places?_quantity=1", proxy.url());
        wait_until("the Faker server", LONG, || reqwest::blocking::get(&probe).is_ok_and(|r| r.status() == 200));
        Upstream { child, proxy }
    }

    /// `DUCKHAUL_UPSTREAM_URL`: through the proxy.
    pub fn url(&self) -> String {
        format!("{}/api/v2", self.proxy.url())
    }

    /// Pages of users asked for so far.
    pub fn users_pages(&self) -> usize {
        self.proxy.count("/api/v2/users")
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where exports and duckhaul's durable record go: a bucket `lake` under prefix `x` of a real
/// fake-gcs-server (optionally reached through a proxy), or a local folder.
pub enum Destination {
    Gcs { gcs: FakeGcs, proxy: Option<Proxy>, runtime: tokio::runtime::Runtime },
    Folder(tempfile::TempDir),
}

impl Destination {
    pub fn gcs() -> Destination {
        Destination::gcs_with(None, false)
    }

    /// An emulator keeping its objects on disk, so it can be stopped and started again.
    pub fn gcs_on_disk(root: &Path) -> Destination {
        Destination::gcs_with(Some(root), false)
    }

    /// The emulator behind a proxy that can hold a write: duckhaul reaches GCS only through it.
    pub fn gcs_behind_proxy() -> Destination {
        Destination::gcs_with(None, true)
    }

    fn gcs_with(root: Option<&Path>, proxied: bool) -> Destination {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let gcs = runtime.block_on(async {
            let gcs = match root {
                Some(root) => FakeGcs::start_on_disk(root).await,
                None => FakeGcs::start().await,
            };
            gcs.create_bucket("lake").await;
            gcs
        });
        let proxy = proxied.then(|| Proxy::start_on_port_80(&gcs.endpoint()));
        Destination::Gcs { gcs, proxy, runtime }
    }

    pub fn folder() -> Destination {
        Destination::Folder(tempfile::tempdir().unwrap())
    }

    /// The settings a duckhaul process gets for this destination.
    pub fn env(&self) -> Vec<(String, String)> {
        match self {
            Destination::Gcs { gcs, proxy, .. } => vec![
                ("DUCKHAUL_DESTINATION".into(), "gs://lake/x".into()),
                ("DUCKHAUL_GCS_ENDPOINT".into(), proxy.as_ref().map_or_else(|| gcs.endpoint(), |p| p.url().into())),
            ],
            Destination::Folder(dir) => vec![("DUCKHAUL_DESTINATION".into(), dir.path().display().to_string())],
        }
    }

    pub fn proxy(&self) -> &Proxy {
        match self {
            Destination::Gcs { proxy: Some(proxy), .. } => proxy,
            _ => panic!("this destination has no proxy"),
        }
    }

    /// Names of the objects (files) under `under`, relative to the destination, sorted.
    pub fn list(&self, under: &str) -> Vec<String> {
        match self {
            Destination::Gcs { gcs, runtime, .. } => {
                let names = runtime.block_on(gcs.list("lake", &format!("x/{under}")));
                names.into_iter().map(|n| n.strip_prefix("x/").unwrap().to_string()).collect()
            }
            Destination::Folder(dir) => {
                let mut names = Vec::new();
                collect_files(dir.path(), dir.path(), &mut names);
                names.retain(|n| n.starts_with(under));
                names.sort();
                names
            }
        }
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        match self {
            Destination::Gcs { gcs, runtime, .. } => {
                runtime.block_on(gcs.object("lake", &format!("x/{name}"))).unwrap_or_else(|| panic!("{name} is gone"))
            }
            Destination::Folder(dir) => std::fs::read(dir.path().join(name)).unwrap(),
        }
    }

    /// Stops the emulator (as an outage) until `start_again`.
    pub fn stop(&mut self) {
        match self {
            Destination::Gcs { gcs, .. } => gcs.kill(),
            Destination::Folder(_) => panic!("a folder cannot be stopped"),
        }
    }

    pub fn start_again(&mut self) {
        match self {
            Destination::Gcs { gcs, runtime, .. } => runtime.block_on(gcs.restart()),
            Destination::Folder(_) => panic!("a folder cannot be stopped"),
        }
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// One `duckhaul serve` instance on a data folder of its own (its DuckDB file's folder).
pub struct Instance {
    child: Child,
    pub base: String,
    data: tempfile::TempDir,
    log: tempfile::NamedTempFile,
    client: reqwest::blocking::Client,
}

impl Instance {
    /// A fresh instance: a new, empty data folder; the destination and the upstream given.
    pub fn start(destination: &Destination, upstream: &str, env: &[(&str, &str)]) -> Instance {
        let data = tempfile::tempdir().unwrap();
        let log = tempfile::NamedTempFile::new().unwrap();
        let port = free_port();
        let child = duckhaul()
            .env("DUCKHAUL_DATABASE", data.path().join("duckhaul.duckdb"))
            .env("DUCKHAUL_UPSTREAM_URL", upstream)
            .envs(destination.env())
            .envs(env.iter().copied())
            .args(["serve", "--port", &port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let client = reqwest::blocking::Client::builder().no_proxy().timeout(LONG).build().unwrap();
        let mut instance = Instance { child, base: format!("http://127.0.0.1:{port}"), data, log, client };
        let health = format!("{}/healthz", instance.base);
        let deadline = Instant::now() + LONG;
        while !instance.client.get(&health).send().is_ok_and(|r| r.status() == 200) {
            if let Ok(Some(status)) = instance.child.try_wait() {
                panic!("duckhaul exited at start with {status}:\n{}", instance.log_text());
            }
            assert!(Instant::now() < deadline, "duckhaul did not start:\n{}", instance.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        instance
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The status and JSON body of a GET.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).send().unwrap();
        (response.status().as_u16(), response.json().unwrap_or(Value::Null))
    }

    /// The status and JSON body of a POST of `body` with `headers`.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.json().unwrap_or(Value::Null))
    }

    pub fn job(&self, id: &str) -> Value {
        let (status, job) = self.get(&format!("/jobs/{id}"));
        assert_eq!(status, 200, "GET /jobs/{id}: {job}\n{}", self.log_tail());
        job
    }

    /// The job once it has finished (succeeded, failed or cancelled).
    pub fn finished(&self, id: &str) -> Value {
        let deadline = Instant::now() + LONG;
        loop {
            let job = self.job(id);
            if ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap_or_default()) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not finish: {job}\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `POST /export?wait=true` of `table`: the finished export job.
    pub fn export(&self, table: &str) -> Value {
        let (status, job) = self.post("/export?wait=true", &[], &serde_json::json!({ "tables": [table] }));
        assert!(status == 200 || status == 202, "POST /export: {status} {job}\n{}", self.log_tail());
        job
    }

    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Loses the instance as Cloud Run does: SIGKILL, then its whole data folder is gone.
    pub fn lose(mut self) {
        let status = Command::new("kill").args(["-KILL", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let _ = self.child.wait();
        let folder: PathBuf = self.data.path().to_path_buf();
        std::fs::remove_dir_all(&folder).unwrap();
        assert!(!folder.exists());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
