//! Never fatal: a DuckDB error that invalidates the database is healed without a person, and a
//! full disk is an error, not a crash.
//!
//! The fatal errors here are DuckDB's own: its `debug_checkpoint_abort` setting makes the next
//! checkpoint throw the same `FatalException` a checkpoint that cannot allocate a block throws,
//! and the instance is invalidated exactly as in production. Full disks are real tmpfs mounts.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{AppOptions, spawn_app, spawn_app_with, users};

/// Makes DuckDB invalidate the app's database: its `debug_checkpoint_abort` setting makes the
/// next checkpoint fail with a fatal error. A checkpoint is refused (not fatal) while the writer
/// holds a transaction, so this tries until one really ran.
async fn invalidate_database(app: &crate::helpers::TestApp) {
    // A checkpoint with nothing to fold is skipped: give it something.
    app.query("CREATE TABLE IF NOT EXISTS fatal_probe (x INTEGER); INSERT INTO fatal_probe VALUES (1)").await;
    app.query("SET debug_checkpoint_abort = 'before_header'").await;
    for _ in 0..200 {
        let error = format!("{:#}", app.try_query("CHECKPOINT").await.expect_err("an armed checkpoint fails"));
        if error.contains("FATAL Error") || error.contains("being reopened") {
            return;
        }
        assert!(error.contains("other write transactions"), "{error}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no checkpoint could run");
}

async fn wait_for_job(app: &crate::helpers::TestApp, id: &str, until: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let response = app.get(&format!("/jobs/{id}")).await;
        if response.status() == 200 {
            let job: Value = response.json().await.unwrap();
            if until(&job) {
                return job;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "job {id} never got there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fatal_error_mid_job_reopens_the_database_and_the_job_resumes_by_itself() {
    let app = spawn_app_with(AppOptions {
        // Slow pages, so the job is surely mid-way when the database dies.
        faults: duckhaul::fake_api::FakeApiOptions { latency_ms: 150, ..Default::default() },
        ..Default::default()
    })
    .await;
    app.ingest(users(3000, 1)).await;

    // A client holding the request open must get the outcome of the whole job.
    let waiter = {
        let (client, url) = (app.client.clone(), app.url("/ingest?wait=true"));
        tokio::spawn(async move {
            client.post(url).json(&users(80_000, 7)).send().await.unwrap().json::<Value>().await.unwrap()
        })
    };
    let started = Instant::now();
    let id = loop {
        if let Some(job) = app.status().await["running_jobs"].as_array().unwrap().first() {
            break job["id"].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the job never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    wait_for_job(&app, &id, |j| j["pages_done"].as_u64().unwrap() >= 8).await;

    invalidate_database(&app).await;

    let done =
        wait_for_job(&app, &id, |j| j["state"] != "running" && j["state"] != "queued" && j["state"] != "interrupted")
            .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["rows"], 80_000);
    assert_eq!(done["pages_done"], 80);
    // It really was interrupted mid-way and resumed by itself, once.
    assert_eq!(done["auto_resumes"], 1, "{done}");
    let waited = waiter.await.unwrap();
    assert_eq!(
        (waited["id"].as_str(), &waited["state"], &waited["rows"]),
        (Some(id.as_str()), &json!("succeeded"), &json!(80_000))
    );

    // Every page exactly once, the earlier job's rows untouched, and the service healthy.
    assert_eq!(app.count("users").await, 83_000);
    let dupes =
        app.query("SELECT count(*) FROM (SELECT _job_id, _page FROM users GROUP BY ALL HAVING count(*) <> 1000)").await;
    assert_eq!(dupes[0][0], 0);
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.metric("duckhaul_database_reopens_total").await, 1.0);
    assert_eq!(app.metric("duckhaul_database_ready").await, 1.0);
    let status = app.status().await;
    assert_eq!(status["database_health"]["state"], "ready");
    // The database works again: a new job and an export succeed.
    let more = app.ingest(users(2000, 9)).await;
    assert_eq!(more["state"], "succeeded");
    let exported = app.export(json!({"tables": ["users"]})).await;
    assert_eq!(exported["state"], "succeeded", "{exported}");
    assert_eq!(exported["objects"][0]["rows"], 85_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_the_database_is_reopened_healthz_and_the_api_answer_503_saying_why() {
    let app = spawn_app().await;
    app.ingest(users(5000, 1)).await;
    assert_eq!(app.get("/healthz").await.status(), 200);

    // A call that holds a connection (and does slow work of its own, which DuckDB cannot
    // interrupt) keeps the invalidated instance in use: the reopen waits for it to let go.
    let store = app.store().clone();
    let (held_tx, held) = tokio::sync::oneshot::channel();
    let long_read = tokio::spawn(async move {
        store
            .read(move |conn| {
                let _ = held_tx.send(());
                std::thread::sleep(Duration::from_secs(3));
                Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)
            })
            .await
    });
    held.await.unwrap();
    invalidate_database(&app).await;

    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("being reopened after a fatal DuckDB error"), "{detail}");
    assert!(detail.contains("Checkpoint aborted"), "{detail}");
    // The status page's data still answers, and says the same.
    let status = app.status().await;
    assert_eq!(status["database_health"]["state"], "reopening", "{status}");
    // Requests that need the database say why they cannot be served, with 503, not 500.
    let response = app.post("/ingest", &users(1000, 2)).await;
    assert_eq!(response.status(), 503);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("being reopened"), "{problem}");

    let _ = long_read.await.unwrap();
    let started = Instant::now();
    while app.get("/healthz").await.status() != 200 {
        assert!(started.elapsed() < Duration::from_secs(60), "the database never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count("users").await, 5000);
    assert_eq!(app.ingest(users(1000, 2)).await["state"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_cannot_be_reopened_stops_the_process_with_an_error() {
    let mut app = spawn_app().await;
    app.ingest(users(2000, 1)).await;
    // Put something that is not a database where the file was: DuckDB keeps writing to the
    // open file, but a reopen of the path must fail.
    let path = app.config.database.clone();
    std::fs::rename(&path, path.with_extension("moved")).unwrap();
    std::fs::create_dir(&path).unwrap();
    invalidate_database(&app).await;

    let ended = app.stopped(Duration::from_secs(60)).await;
    let error = format!("{:#}", ended.unwrap_err());
    assert!(error.contains("could not be reopened"), "{error}");
}

/// A tmpfs of `mb` megabytes, unmounted on drop: a disk that really fills up.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` (the test skips, saying so) where mounting needs a root this process is not.
    fn mount(dir: &Path, mb: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
            assert!(!root, "root could not mount a tmpfs on {}", dir.display());
            eprintln!("skipped: mounting a tmpfs needs root (scripts/test runs as root in CI)");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    /// Fills the disk until `leave` bytes are free (or fewer, when the service writes
    /// meanwhile: its checkpoint, its durable log), with a file `free` removes.
    fn fill(&self, leave: u64) {
        let free = duckhaul::store::Disk::of(&self.0.join("x")).free().unwrap();
        let filler = vec![0u8; free.saturating_sub(leave) as usize];
        match std::fs::write(self.0.join("filler"), filler) {
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {}
            written => written.unwrap(),
        }
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

/// An app whose database folder is a tmpfs of `mb` megabytes (`None`: not root, skipped).
async fn app_on_tmpfs(mb: u64) -> Option<(tempfile::TempDir, Tmpfs, crate::helpers::TestApp)> {
    let root = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&root.path().join("data"), mb)?;
    let app =
        spawn_app_with(AppOptions { database: Some(root.path().join("data/duckhaul.duckdb")), ..Default::default() })
            .await;
    Some((root, disk, app))
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_fails_pages_cleanly_and_a_resume_finishes_once_space_is_freed() {
    // Dropped app first, then the mount, then the folder.
    let Some((root, disk, app)) = app_on_tmpfs(96).await else { return };
    app.ingest(users(2000, 1)).await;
    disk.fill(40 << 20);

    let job = app.ingest(users(100_000, 3)).await;
    assert_eq!(job["state"], "failed", "{job}");
    let failure = job["failed_pages"][0]["error"].as_str().unwrap();
    assert!(failure.contains("disk full: ") && failure.contains(" free on "), "{failure}");
    assert!(failure.contains(&root.path().join("data").display().to_string()), "{failure}");
    // A full disk refuses every page: fetching stopped at the first refusal, rather than
    // fetching each of the remaining pages only to have it refused.
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("refuses every page") && error.contains("disk full: "), "{error}");
    let tried = job["pages_done"].as_u64().unwrap() + job["failed_pages"].as_array().unwrap().len() as u64;
    assert!(tried < 100, "every page was fetched: {job}");
    // Committed pages stay, whole; the service keeps answering.
    let rows = job["rows"].as_i64().unwrap();
    assert!(rows > 0 && rows < 100_000, "{job}");
    assert_eq!(rows % 1000, 0);
    assert_eq!(app.count("users").await, 2000 + rows);
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.status().await["database_health"]["state"], "ready");

    // Once space is freed, the job resumes to the end, without a restart.
    disk.free();
    let id = job["id"].as_str().unwrap();
    let response = app.client.post(app.url(&format!("/jobs/{id}/resume"))).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let done = wait_for_job(&app, id, |j| j["state"] != "running" && j["state"] != "queued").await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(app.count("users").await, 102_000);
    assert_eq!(app.ingest(users(1000, 4)).await["state"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_that_cannot_stage_its_file_fails_cleanly() {
    // Dropped app first, then the mount, then the folder.
    let Some((_root, disk, app)) = app_on_tmpfs(64).await else { return };
    app.ingest(users(20_000, 1)).await;
    disk.fill(1 << 20);

    let response = app.post("/export?wait=true", &json!({"tables": ["users"]})).await;
    assert_eq!(response.status(), 200);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("disk full: "), "{error}");
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.count("users").await, 20_000);

    disk.free();
    let exported = app.export(json!({"tables": ["users"]})).await;
    assert_eq!(exported["state"], "succeeded", "{exported}");
    assert_eq!(exported["objects"][0]["rows"], 20_000);
}
