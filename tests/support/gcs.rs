//! A real fake-gcs-server per test, for integration tests that write to GCS.
//!
//! The binary comes from `DUCKHAUL_FAKE_GCS_BIN` (set by `scripts/test-env.sh`). Each emulator
//! gets its own loopback address and listens on port 80: the Rust client sends a `Host` header
//! without the port, and the emulator builds resumable-upload URLs from it, so on any other
//! port the upload's PUTs would go to :80 of the wrong server.
#![allow(dead_code)]

use std::io::Read;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Addresses 127.0.0.2 ..= 127.255.255.254, as offsets from 127.0.0.0.
const FIRST_HOST: u32 = 2;
const LAST_HOST: u32 = 0x00ff_fffe;
const ATTEMPTS: u32 = 8;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct FakeGcs {
    child: Child,
    address: Ipv4Addr,
    /// `None`: in memory; `Some(dir)`: objects kept as files in `dir`, so a restart keeps them.
    root: Option<std::path::PathBuf>,
    log: tempfile::NamedTempFile,
    http: reqwest::Client,
}

impl FakeGcs {
    /// Starts an emulator with an in-memory backend on a loopback address of its own.
    /// Panics (with the emulator's output) if none can be started.
    pub async fn start() -> FakeGcs {
        FakeGcs::start_backed(None).await
    }

    /// Starts an emulator that keeps its objects as files in `root`: `restart` (as after a
    /// crash or a stop of a few seconds) finds every object written before.
    pub async fn start_on_disk(root: &std::path::Path) -> FakeGcs {
        FakeGcs::start_backed(Some(root.to_path_buf())).await
    }

    async fn start_backed(root: Option<std::path::PathBuf>) -> FakeGcs {
        let bin = std::env::var_os("DUCKHAUL_FAKE_GCS_BIN").expect(
            "DUCKHAUL_FAKE_GCS_BIN is not set: run the tests through scripts/test, \
             which installs fake-gcs-server and exports it",
        );
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building the HTTP client for the emulator");
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let address = next_address();
            let host = address.to_string();
            let log = tempfile::NamedTempFile::new().expect("creating the emulator's log file");
            let child = spawn(&bin, address, &log, root.as_deref());
            let mut fake = FakeGcs { child, address, root: root.clone(), log, http: http.clone() };
            match fake.wait_until_serving().await {
                Ok(()) => return fake,
                // Most likely another emulator holds this address: try the next one.
                Err(why) => failures.push(format!("{host}: {why}")),
            }
        }
        panic!(
            "fake-gcs-server did not start after {ATTEMPTS} attempts (it must bind port 80, \
             which needs root or CAP_NET_BIND_SERVICE):\n{}",
            failures.join("\n")
        );
    }

    /// `http://127.0.0.N`, to pass to `GcsSink::connect` as the endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `127.0.0.N:80`, the bare form `STORAGE_EMULATOR_HOST` uses.
    pub fn host_port(&self) -> String {
        format!("{}:80", self.address)
    }

    pub async fn create_bucket(&self, name: &str) {
        let response = self
            .http
            .post(format!("{}/storage/v1/b?project=test", self.endpoint()))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("creating a bucket on the emulator");
        let status = response.status();
        assert!(status.is_success(), "creating bucket {name}: {status} {}", response.text().await.unwrap_or_default());
    }

    /// The object's bytes, or `None` if it does not exist.
    pub async fn object(&self, bucket: &str, name: &str) -> Option<Vec<u8>> {
        let mut url = self.objects_url(bucket);
        url.path_segments_mut().expect("http URLs have path segments").push(name);
        url.set_query(Some("alt=media"));
        let response = self.http.get(url).send().await.expect("downloading an object");
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => None,
            status if status.is_success() => Some(response.bytes().await.expect("reading an object's bytes").to_vec()),
            status => panic!("downloading gs://{bucket}/{name}: {status}"),
        }
    }

    /// The object's JSON resource (`size`, `crc32c`, `contentType`, ...), or `None` if it does
    /// not exist.
    pub async fn metadata(&self, bucket: &str, name: &str) -> Option<serde_json::Value> {
        let mut url = self.objects_url(bucket);
        url.path_segments_mut().expect("http URLs have path segments").push(name);
        let response = self.http.get(url).send().await.expect("reading object metadata");
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => None,
            status if status.is_success() => Some(response.json().await.expect("decoding object metadata")),
            status => panic!("reading the metadata of gs://{bucket}/{name}: {status}"),
        }
    }

    /// Names of the objects in `bucket` starting with `prefix`, in the emulator's order (sorted).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.objects_url(bucket);
            url.query_pairs_mut().append_pair("prefix", prefix);
            if let Some(token) = &page_token {
                url.query_pairs_mut().append_pair("pageToken", token);
            }
            let response = self.http.get(url).send().await.expect("listing objects");
            let status = response.status();
            assert!(status.is_success(), "listing gs://{bucket}/{prefix}: {status}");
            let page: serde_json::Value = response.json().await.expect("decoding a listing");
            let items = page["items"].as_array().into_iter().flatten();
            names.extend(items.map(|item| item["name"].as_str().expect("listed objects have a name").to_string()));
            match page["nextPageToken"].as_str() {
                Some(token) if !token.is_empty() => page_token = Some(token.to_string()),
                _ => return names,
            }
        }
    }

    /// The request lines the emulator has logged so far (`POST /upload/...?uploadType=... HTTP/1.1`):
    /// how a test sees which upload protocol and preconditions a client used.
    pub fn requests(&self) -> Vec<String> {
        self.output()
            .lines()
            .filter_map(|line| {
                let start = line.find("] \\\"")? + 4;
                let end = start + line[start..].find("\\\"")?;
                Some(line[start..end].to_string())
            })
            .collect()
    }

    fn objects_url(&self, bucket: &str) -> reqwest::Url {
        let mut url = reqwest::Url::parse(&self.endpoint()).expect("the endpoint is a URL");
        url.path_segments_mut().expect("http URLs have path segments").extend(["storage", "v1", "b", bucket, "o"]);
        url
    }

    fn output(&self) -> String {
        let mut text = String::new();
        let _ = self.log.reopen().and_then(|mut file| file.read_to_string(&mut text));
        text
    }

    /// Ready once the emulator has logged that it listens on *its* address (an HTTP probe alone
    /// could be answered by another test's emulator if this one failed to bind) and answers.
    async fn wait_until_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let started = format!("server started at http://{}:80", self.address);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("exited with {status}: {}", self.output().trim()));
            }
            if self.output().contains(&started) {
                let probe = self.http.get(format!("{}/storage/v1/b?project=test", self.endpoint())).send().await;
                if probe.is_ok_and(|r| r.status().is_success()) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("not serving after {STARTUP_TIMEOUT:?}: {}", self.output().trim()))
    }
}

impl FakeGcs {
    /// Kills the emulator (as a crash would): everything it stored is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the emulator again on the same address after `kill`: empty if it kept its
    /// objects in memory, with all of them if it was started `on_disk`.
    pub async fn restart(&mut self) {
        self.kill();
        let bin = std::env::var_os("DUCKHAUL_FAKE_GCS_BIN").expect("DUCKHAUL_FAKE_GCS_BIN is set");
        self.child = spawn(&bin, self.address, &self.log, self.root.as_deref());
        self.wait_until_serving().await.expect("the restarted emulator serves");
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the emulator binary on `address`, port 80, logging to `log`, with an in-memory
/// backend or, given a `root`, a filesystem one in that folder.
fn spawn(
    bin: &std::ffi::OsStr,
    address: Ipv4Addr,
    log: &tempfile::NamedTempFile,
    root: Option<&std::path::Path>,
) -> Child {
    let host = address.to_string();
    let output = || log.reopen().expect("reopening the emulator's log file");
    let mut command = Command::new(bin);
    match root {
        None => command.args(["-backend", "memory"]),
        Some(root) => command.args(["-backend", "filesystem"]).arg("-filesystem-root").arg(root),
    };
    command
        .args(["-scheme", "http", "-log-level", "info"])
        .args(["-host", &host, "-port", "80"])
        .args(["-external-url", &format!("http://{host}")])
        .args(["-public-host", &host])
        .stdin(Stdio::null())
        .stdout(Stdio::from(output()))
        .stderr(Stdio::from(output()))
        .spawn()
        .unwrap_or_else(|e| panic!("starting fake-gcs-server {}: {e}", bin.to_string_lossy()))
}

/// A loopback address no other emulator of this test process has used, and most likely none
/// of another concurrent test process (the pid spreads them apart; a clash is retried).
fn next_address() -> Ipv4Addr {
    let span = LAST_HOST - FIRST_HOST + 1;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let seed = std::process::id().wrapping_mul(256).wrapping_add(n);
    Ipv4Addr::from((127 << 24) | (FIRST_HOST + seed % span))
}
