//! The real binary as an operator runs it: killed with SIGKILL mid-ingest and resumed, stopped
//! with SIGTERM, started on a locked database, and the one-shot `run` command.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/files.rs"]
mod files;

const BIN: &str = env!("CARGO_BIN_EXE_duckhaul");

/// A free loopback port (bound, then released for the child to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Upstream {
    child: Child,
    url: String,
}

impl Upstream {
    /// The bundled Faker server as its own process, slowed so a job takes a while.
    fn start(latency_ms: u64) -> Upstream {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["fake-api", "--listen", &format!("127.0.0.1:{port}"), "--latency-ms", &latency_ms.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/api/v2");
        wait_until(|| reqwest::blocking::get(format!("{url}/places?_quantity=1")).is_ok_and(|r| r.status() == 200));
        Upstream { child, url }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Service {
    child: Child,
    base: String,
}

impl Service {
    fn start(db: &Path, upstream: &str) -> Service {
        Service::start_with(db, upstream, &[])
    }

    fn start_with(db: &Path, upstream: &str, env: &[(&str, &str)]) -> Service {
        let port = free_port();
        let child = service_command(db, upstream)
            .envs(env.iter().copied())
            .args(["serve", "--port", &port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_until(|| reqwest::blocking::get(format!("{base}/healthz")).is_ok_and(|r| r.status() == 200));
        Service { child, base }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
        client.post(format!("{}{path}", self.base)).json(&body).send().unwrap().json().unwrap()
    }

    fn get(&self, path: &str) -> Value {
        reqwest::blocking::get(format!("{}{path}", self.base)).unwrap().json().unwrap()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn service_command(db: &Path, upstream: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("DUCKHAUL_DATABASE", db)
        .env("DUCKHAUL_UPSTREAM_URL", upstream)
        .env("DUCKHAUL_DESTINATION", db.parent().unwrap().join("exports"))
        .env("DUCKHAUL_UPSTREAM_RATE_LIMIT", "0")
        .env_remove("DUCKHAUL_GCS_ENDPOINT")
        .env_remove("STORAGE_EMULATOR_HOST");
    cmd
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens the database file once no process holds it.
fn query_i64(db: &Path, sql: &str) -> i64 {
    let conn = duckdb::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("duckhaul.duckdb");
    (dir, db)
}

/// Starts a 60-page ingest of 6,000 users and kills the service with SIGKILL a few pages in;
/// returns the job's id.
fn kill_mid_ingest(db: &Path, upstream: &Upstream) -> String {
    let service = Service::start(db, &upstream.url);
    let job = service
        .post("/ingest", json!({"resource": "users", "quantity": 6000, "page_size": 100, "concurrency": 2, "seed": 5}));
    let id = job["id"].as_str().unwrap().to_string();
    wait_until(|| service.get(&format!("/jobs/{id}"))["pages_done"].as_i64().unwrap() >= 5);
    service.signal("-KILL");
    id
}

/// The 6,000 users of `kill_mid_ingest`, each of its 60 pages stored exactly once.
fn assert_every_page_once(db: &Path) {
    assert_eq!(query_i64(db, "SELECT count(*) FROM users"), 6000);
    assert_eq!(query_i64(db, "SELECT count(DISTINCT _page) FROM users"), 60);
    assert_eq!(query_i64(db, "SELECT max(c) FROM (SELECT count(*) c FROM users GROUP BY _page)"), 100);
}

#[test]
fn a_job_killed_mid_ingest_resumes_by_itself_at_start_without_losing_or_repeating_a_page() {
    let upstream = Upstream::start(40);
    let (_dir, db) = temp_db();
    let id = kill_mid_ingest(&db, &upstream);

    // No /resume call: the restarted service finishes the job by itself.
    let service = Service::start(&db, &upstream.url);
    let mut done = Value::Null;
    wait_until(|| {
        done = service.get(&format!("/jobs/{id}"));
        done["state"] == "succeeded" || done["state"] == "failed"
    });
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["rows"], 6000);
    assert_eq!(done["pages_done"], 60);
    assert_eq!(done["auto_resumes"], 1, "{done}");
    service.signal("-TERM");
    drop(service);
    assert_every_page_once(&db);
}

#[test]
fn with_resume_at_start_off_a_killed_job_waits_for_a_resume_call() {
    let upstream = Upstream::start(40);
    let (_dir, db) = temp_db();
    let id = kill_mid_ingest(&db, &upstream);

    let service = Service::start_with(&db, &upstream.url, &[("DUCKHAUL_RESUME_AT_START", "false")]);
    let interrupted = service.get(&format!("/jobs/{id}"));
    assert_eq!(interrupted["state"], "interrupted", "{interrupted}");
    let done = interrupted["pages_done"].as_i64().unwrap();
    assert!((5..60).contains(&done), "{interrupted}");
    assert_eq!(interrupted["rows"], done * 100);

    let resumed = service.post(&format!("/jobs/{id}/resume?wait=true"), json!({}));
    assert_eq!(resumed["state"], "succeeded", "{resumed}");
    assert_eq!(resumed["rows"], 6000);
    assert_eq!(resumed["pages_done"], 60);
    service.signal("-TERM");
    drop(service);
    assert_every_page_once(&db);
}

#[test]
fn sigterm_commits_what_was_fetched_marks_the_job_interrupted_and_exits_0() {
    let upstream = Upstream::start(50);
    let (_dir, db) = temp_db();
    let mut service = Service::start(&db, &upstream.url);
    let job = service.post(
        "/ingest",
        json!({"resource": "users", "quantity": 20000, "page_size": 100, "concurrency": 2, "seed": 1}),
    );
    let id = job["id"].as_str().unwrap().to_string();
    wait_until(|| service.get(&format!("/jobs/{id}"))["pages_done"].as_i64().unwrap() >= 3);
    let stopped_at = Instant::now();
    service.signal("-TERM");
    let status = service.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(stopped_at.elapsed() < Duration::from_secs(10), "{:?}", stopped_at.elapsed());
    drop(service);

    let pages = query_i64(&db, &format!("SELECT count(*) FROM duckhaul_pages WHERE job_id = '{id}'"));
    assert_eq!(query_i64(&db, "SELECT count(*) FROM users"), pages * 100);
    let service = Service::start_with(&db, &upstream.url, &[("DUCKHAUL_RESUME_AT_START", "false")]);
    let stored = service.get(&format!("/jobs/{id}"));
    assert_eq!(stored["state"], "interrupted", "{stored}");
    assert_eq!(stored["pages_done"], pages);
}

#[test]
fn a_database_held_by_another_process_is_a_clear_start_up_error() {
    let upstream = Upstream::start(0);
    let (_dir, db) = temp_db();
    let _holder = Service::start(&db, &upstream.url);
    let output =
        service_command(&db, &upstream.url).args(["serve", "--port", &free_port().to_string()]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_setting_stops_the_start_with_its_name() {
    let (_dir, db) = temp_db();
    let output = service_command(&db, "builtin").env("DUCKHAUL_DESTINATION", "gs://").args(["serve"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DUCKHAUL_DESTINATION"), "{stderr}");
}

/// `serve` on a sources folder holding `files`: its exit status and stderr.
fn serve_with_sources(files: &[(&str, &str)], env_removed: &[&str]) -> (std::process::ExitStatus, String) {
    let (dir, db) = temp_db();
    let sources = dir.path().join("sources");
    std::fs::create_dir(&sources).unwrap();
    for (name, text) in files {
        std::fs::write(sources.join(name), text).unwrap();
    }
    let mut command = service_command(&db, "builtin");
    for variable in env_removed {
        command.env_remove(variable);
    }
    let output = command
        .env("DUCKHAUL_SOURCES_DIR", &sources)
        .args(["serve", "--port", &free_port().to_string(), "--host", "127.0.0.1"])
        .output()
        .unwrap();
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_bad_source_file_stops_the_start_with_the_file_the_key_and_the_reason() {
    let good = "base_url = \"https://api.example.com\"\n[resources.items]\npath = \"/items\"\nrecords = \"\"\n";
    let bad = "base_url = \"https://api.example.com\"\n[resources.orders]\nrecords = \"/data\"\n";
    let (status, stderr) = serve_with_sources(&[("good.toml", good), ("shop.toml", bad)], &[]);
    assert!(!status.success());
    assert!(stderr.contains("shop.toml: resources.orders.path: is required"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_secret_missing_from_the_environment_is_named_at_start() {
    let file = "base_url = \"https://api.example.com\"\n[auth]\nkind = \"bearer\"\ntoken_env = \"DUCKHAUL_TEST_ABSENT_TOKEN\"\n\
                [resources.orders]\npath = \"/orders\"\nrecords = \"/data\"\n";
    let (status, stderr) = serve_with_sources(&[("shop.toml", file)], &["DUCKHAUL_TEST_ABSENT_TOKEN"]);
    assert!(!status.success());
    assert!(
        stderr.contains("shop.toml: auth.token_env: the environment variable DUCKHAUL_TEST_ABSENT_TOKEN is not set"),
        "{stderr}"
    );
}

#[test]
fn sources_names_a_secrets_variable_but_never_shows_its_value() {
    let (dir, db) = temp_db();
    let sources = dir.path().join("sources");
    std::fs::create_dir(&sources).unwrap();
    let file = "base_url = \"https://api.example.com\"\n[auth]\nkind = \"header\"\nheader = \"X-Api-Key\"\n\
                token_env = \"DUCKHAUL_TEST_SHOP_TOKEN\"\n[resources.orders]\npath = \"/orders\"\nrecords = \"/data\"\n";
    std::fs::write(sources.join("shop.toml"), file).unwrap();
    let secret = "s3cr3t-5f0e2b9a-never-shown";
    let service = Service::start_with(
        &db,
        "builtin",
        &[("DUCKHAUL_SOURCES_DIR", sources.to_str().unwrap()), ("DUCKHAUL_TEST_SHOP_TOKEN", secret)],
    );
    let body = reqwest::blocking::get(format!("{}/sources", service.base)).unwrap().text().unwrap();
    assert!(!body.contains(secret), "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed[1]["auth"],
        json!({"kind": "header", "header": "X-Api-Key", "variables": ["DUCKHAUL_TEST_SHOP_TOKEN"]})
    );
}

#[test]
fn the_one_shot_run_ingests_and_exports_on_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .current_dir(dir.path())
        .env("DUCKHAUL_UPSTREAM_URL", "builtin")
        .env_remove("DUCKHAUL_DATABASE")
        .env_remove("DUCKHAUL_DESTINATION")
        .env_remove("DUCKHAUL_GCS_ENDPOINT")
        .env_remove("STORAGE_EMULATOR_HOST")
        .args(["run", "--resource", "companies", "--quantity", "1500", "--seed", "3", "--export"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let db = dir.path().join("data/duckhaul.duckdb");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM companies"), 1500);
    let parquet = files::parquet_files(&dir.path().join("exports/companies"));
    assert_eq!(parquet.len(), 1, "{parquet:?}");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let rows: i64 = conn
        .query_row(&format!("SELECT count(*) FROM read_parquet('{}')", parquet[0].display()), [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1500);
    // Both finished jobs are printed as JSON documents.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("\"state\": \"succeeded\"").count(), 2, "{stdout}");
}

#[test]
fn one_tasks_share_of_a_split_run_resumes_as_that_share_not_the_whole_run() {
    let upstream = Upstream::start(0);
    let (_dir, db) = temp_db();
    // Task 1 of 2 against an upstream that is gone: its pages fail, the job is recorded failed.
    let output = service_command(&db, "http://127.0.0.1:9/api/v2")
        .env("DUCKHAUL_UPSTREAM_MAX_ATTEMPTS", "1")
        .args([
            "run",
            "--quantity",
            "4000",
            "--page-size",
            "1000",
            "--seed",
            "7",
            "--task-index",
            "1",
            "--task-count",
            "2",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let job: Value = serde_json::Deserializer::from_slice(&output.stdout).into_iter().next().unwrap().unwrap();
    assert_eq!((job["state"].as_str(), job["pages_total"].as_i64()), (Some("failed"), Some(2)), "{job}");
    let id = job["id"].as_str().unwrap();

    let service = Service::start(&db, &upstream.url);
    let client = reqwest::blocking::Client::new();
    // The job's spec keeps its task's share: the resume fetches pages 1 and 3, not all four.
    let resumed = client.post(format!("{}/jobs/{id}/resume?wait=true", service.base)).json(&json!({})).send().unwrap();
    assert_eq!(resumed.status(), 200);
    let done: Value = resumed.json().unwrap();
    assert_eq!((done["state"].as_str(), done["rows"].as_i64()), (Some("succeeded"), Some(2000)), "{done}");
    assert_eq!(done["pages_total"], 2, "{done}");
    assert_eq!(users_rows(&service), 2000);
}

/// Rows in users, as the service reports them (the file is the service's while it runs).
fn users_rows(service: &Service) -> i64 {
    let status = service.get("/status");
    status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "users")
        .map_or(0, |t| t["rows"].as_i64().unwrap())
}

/// A generic fake slowed to `latency_ms`, a sources folder beside `db` whose source `gen`
/// pages 3,000 users by 50 (60 pages) three ways: `seq` by cursor and `nxt` by next URL
/// (followed, one page after another), `par` by offset with the total (planned, in parallel).
fn generic_sources_beside(db: &Path, upstream: &Upstream) -> PathBuf {
    let sources = db.parent().unwrap().join("sources");
    std::fs::create_dir_all(&sources).unwrap();
    let base = upstream.url.trim_end_matches("/api/v2");
    let file = format!(
        r#"base_url = "{base}"
rate_limit_per_minute = 0

[resources.seq]
path = "/generic/cursor/users"
table = "seq_users"
params = {{ total = 3000, limit = 50 }}
records = "/data"
pagination = {{ kind = "cursor", cursor = "/next_cursor", cursor_param = "cursor" }}

[resources.nxt]
path = "/generic/next/users"
table = "nxt_users"
params = {{ total = 3000, limit = 50 }}
records = "/items"
pagination = {{ kind = "next_url", next_url = "/links/next" }}

[resources.par]
path = "/generic/offset/users"
table = "par_users"
params = {{ total = 3000 }}
records = "/data"
pagination = {{ kind = "offset", offset_param = "offset", limit_param = "limit", page_size = 50, total = "/meta/total" }}
"#
    );
    std::fs::write(sources.join("gen.toml"), file).unwrap();
    sources
}

#[test]
fn source_ingests_killed_mid_run_resume_at_start_with_every_record_once() {
    let upstream = Upstream::start(150);
    let (_dir, db) = temp_db();
    let sources = generic_sources_beside(&db, &upstream);
    let env = [("DUCKHAUL_SOURCES_DIR", sources.to_str().unwrap())];

    let service = Service::start_with(&db, &upstream.url, &env);
    let seq = service.post("/ingest", json!({"source": "gen", "resource": "seq"}));
    let nxt = service.post("/ingest", json!({"source": "gen", "resource": "nxt"}));
    let par = service.post("/ingest", json!({"source": "gen", "resource": "par", "concurrency": 2}));
    let ids: Vec<String> =
        [&seq, &nxt, &par].iter().map(|j| j["id"].as_str().unwrap_or_else(|| panic!("{j}")).to_string()).collect();
    wait_until(|| ids.iter().all(|id| service.get(&format!("/jobs/{id}"))["pages_done"].as_i64().unwrap() >= 5));
    service.signal("-KILL");
    drop(service);

    // No /resume call: the restarted service finishes both by itself.
    let service = Service::start_with(&db, &upstream.url, &env);
    for id in &ids {
        let mut done = Value::Null;
        wait_until(|| {
            done = service.get(&format!("/jobs/{id}"));
            done["state"] == "succeeded" || done["state"] == "failed"
        });
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["auto_resumes"], 1, "{done}");
        assert_eq!((done["rows"].as_i64(), done["pages_done"].as_i64()), (Some(3000), Some(60)), "{done}");
    }
    service.signal("-TERM");
    drop(service);

    for table in ["seq_users", "nxt_users", "par_users"] {
        assert_eq!(query_i64(&db, &format!("SELECT count(*) FROM {table}")), 3000, "{table}");
        assert_eq!(query_i64(&db, &format!("SELECT count(DISTINCT _index) FROM {table}")), 3000, "{table}");
        assert_eq!(query_i64(&db, &format!("SELECT min(_index) FROM {table}")), 0, "{table}");
        assert_eq!(query_i64(&db, &format!("SELECT max(_index) FROM {table}")), 2999, "{table}");
        // Each page stored once, whole.
        assert_eq!(query_i64(&db, &format!("SELECT count(DISTINCT _page) FROM {table}")), 60, "{table}");
        assert_eq!(
            query_i64(&db, &format!("SELECT max(c) FROM (SELECT count(*) c FROM {table} GROUP BY _page)")),
            50,
            "{table}"
        );
    }
}
