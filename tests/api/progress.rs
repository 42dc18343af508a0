//! Live progress of running jobs on `/jobs/{id}` and `/status`: pages, rows, pace, ETA,
//! retries and the last fault, against a slowed Faker server that also throttles.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{AppOptions, spawn_app_with};
use duckhaul::fake_api::FakeApiOptions;

#[tokio::test]
async fn a_running_job_shows_its_pace_eta_retries_and_last_error() {
    // 40 pages, 2 at a time, at least 300 ms each: seconds still to run when it is first seen
    // mid-way, so /status, asked right after, lists it on a busy machine too.
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions {
            latency_ms: 300,
            rate_429: 0.25,
            retry_after: 0,
            fault_seed: Some(5),
            ..FakeApiOptions::default()
        },
        max_attempts: 20,
        ..AppOptions::default()
    })
    .await;
    let started = app
        .post("/ingest", &json!({"resource": "users", "quantity": 4000, "page_size": 100, "concurrency": 2, "seed": 9}))
        .await;
    assert_eq!(started.status(), 202);
    let job: Value = started.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["pages_total"], 40);
    assert_eq!(job["retries"], 0);

    // Poll until the job is seen mid-way with a retry behind it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let live = loop {
        let view: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
        if view["state"] == "running"
            && view["pages_done"].as_u64().unwrap() >= 2
            && view["retries"].as_u64().unwrap() >= 1
        {
            break view;
        }
        assert!(
            view["state"] == "running" || view["state"] == "queued",
            "the job ended before it was seen mid-way: {view}"
        );
        assert!(Instant::now() < deadline, "never saw the job mid-way: {view}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    let done = live["pages_done"].as_u64().unwrap();
    assert!(done < 40, "{live}");
    assert_eq!(live["rows"].as_u64().unwrap() % 100, 0, "{live}");
    assert!(live["rows"].as_u64().unwrap() <= 4000, "{live}");
    assert!(live["rows_per_second"].as_f64().unwrap() > 0.0, "{live}");
    assert!(live["eta_seconds"].as_f64().unwrap() > 0.0, "{live}");
    assert!(live["last_error"].as_str().unwrap().contains("429"), "{live}");

    // /status lists it among the running jobs with the same fields.
    let status = app.status().await;
    let running = status["running_jobs"].as_array().unwrap().iter().find(|j| j["id"] == id.as_str());
    let running = running.unwrap_or_else(|| panic!("/status does not list the running job {id}: {status}"));
    for field in ["rows_per_second", "eta_seconds", "retries", "last_error", "pages_done", "pages_total"] {
        assert!(!running[field].is_null(), "/status lacks {field}: {running}");
    }
    assert_eq!(running["pages_total"], 40);
    assert!(running["pages_done"].as_u64().unwrap() >= done, "{running} after {live}");

    // Once finished: no ETA, an average pace, and exactly the retries the fake server caused.
    let finished: Value = loop {
        let view: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
        if view["state"] != "running" {
            break view;
        }
        assert!(Instant::now() < deadline, "the job never finished: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["rows"], 4000);
    assert!(finished["eta_seconds"].is_null(), "{finished}");
    assert!(finished["rows_per_second"].as_f64().unwrap() > 0.0, "{finished}");
    let stats: Value = app.upstream_stats().await;
    assert_eq!(finished["retries"], stats["faults"]["rate_429"], "{finished} vs {stats}");

    // The same survives in the stored record after a restart.
    let app = app.restart().await;
    let stored: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
    assert_eq!(stored["retries"], finished["retries"]);
    assert_eq!(stored["last_error"], finished["last_error"]);
    assert_eq!(stored["rows_per_second"], finished["rows_per_second"]);
}
