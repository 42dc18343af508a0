//! Upstream faults, produced for real by the bundled Faker server's fault injection.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, spawn_app, spawn_app_with};
use duckhaul::fake_api::FakeApiOptions;

async fn pages_in_table(app: &TestApp, table: &str, job: &Value) -> Vec<(i64, i64)> {
    let rows = app
        .query(&format!(
            "SELECT _page, count(*) FROM {table} WHERE _job_id = '{}' GROUP BY _page ORDER BY _page",
            job["id"].as_str().unwrap()
        ))
        .await;
    rows.into_iter().map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap())).collect()
}

#[tokio::test]
async fn transient_faults_are_retried_until_every_page_is_stored_once() {
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions {
            error_rate: 0.15,
            rate_429: 0.1,
            retry_after: 0,
            truncate_rate: 0.1,
            reset_rate: 0.1,
            fault_seed: Some(7),
            ..FakeApiOptions::default()
        },
        max_attempts: 15,
        ..AppOptions::default()
    })
    .await;
    let job =
        app.ingest(json!({"resource": "users", "quantity": 4000, "page_size": 200, "seed": 1, "concurrency": 4})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["rows"], 4000);
    assert_eq!(app.count("users").await, 4000);
    let pages = pages_in_table(&app, "users", &job).await;
    assert_eq!(pages, (0..20).map(|p| (p, 200)).collect::<Vec<_>>());

    // The faults really happened: the fake server answered errors and the client retried.
    let stats: Value = app.upstream_stats().await;
    assert!(stats["total"].as_u64().unwrap() > 20, "expected retries beyond the 20 pages: {stats}");
    for fault in ["server_error", "rate_429", "truncated", "reset"] {
        assert!(stats["faults"][fault].as_u64().unwrap_or(0) > 0, "no {fault} was injected: {stats}");
    }
}

#[tokio::test]
async fn a_permanent_error_fails_the_page_at_once_with_its_reason() {
    let app = spawn_app_with(AppOptions { upstream_suffix: "/missing", ..AppOptions::default() }).await;
    let job = app.ingest(json!({"resource": "users", "quantity": 250, "page_size": 100, "seed": 50})).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"], "3 of 3 pages failed; see failed_pages");
    let failed = job["failed_pages"].as_array().unwrap();
    let pages: Vec<(u64, u64)> =
        failed.iter().map(|f| (f["page"].as_u64().unwrap(), f["seed"].as_u64().unwrap())).collect();
    assert_eq!(pages, [(0, 50), (1, 51), (2, 52)]);
    assert!(failed[0]["error"].as_str().unwrap().contains("404"), "{job}");
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_partly_failed_job_keeps_its_good_pages_and_resumes_to_exactly_quantity() {
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions { error_rate: 0.4, fault_seed: Some(3), ..FakeApiOptions::default() },
        max_attempts: 1,
        ..AppOptions::default()
    })
    .await;
    let job = app.ingest(json!({"resource": "books", "quantity": 2000, "page_size": 100, "seed": 9})).await;
    assert_eq!(job["state"], "failed", "with 40% errors and one attempt some pages fail: {job}");
    let failed: BTreeSet<i64> =
        job["failed_pages"].as_array().unwrap().iter().map(|f| f["page"].as_i64().unwrap()).collect();
    let stored: BTreeSet<i64> = pages_in_table(&app, "books", &job)
        .await
        .into_iter()
        .map(|(p, rows)| {
            assert_eq!(rows, 100);
            p
        })
        .collect();
    assert!(!failed.is_empty());
    assert_eq!(failed.intersection(&stored).count(), 0, "a failed page has no rows");
    assert_eq!(failed.len() + stored.len(), 20, "every page is either stored or listed as failed");
    assert_eq!(job["rows"], stored.len() as i64 * 100);

    // Resuming fetches only what is missing, until the job succeeds.
    let id = job["id"].as_str().unwrap();
    let mut last = job.clone();
    for _ in 0..20 {
        let response = app.post(&format!("/jobs/{id}/resume?wait=true"), &json!({})).await;
        assert_eq!(response.status(), 200);
        last = response.json().await.unwrap();
        assert_eq!(last["id"], id);
        if last["state"] == "succeeded" {
            break;
        }
    }
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(last["rows"], 2000);
    assert_eq!(app.count("books").await, 2000);
    assert_eq!(pages_in_table(&app, "books", &job).await, (0..20).map(|p| (p, 100)).collect::<Vec<_>>());
    // A succeeded job does not resume.
    let again = app.post(&format!("/jobs/{id}/resume"), &json!({})).await;
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn an_idempotency_key_returns_the_job_it_started() {
    let app = spawn_app().await;
    let body = json!({"resource": "users", "quantity": 1000});
    let first = app
        .client
        .post(app.url("/ingest?wait=true"))
        .header("Idempotency-Key", "nightly-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let second =
        app.client.post(app.url("/ingest")).header("Idempotency-Key", "nightly-1").json(&body).send().await.unwrap();
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["base_seed"], first["base_seed"], "the drawn seed is the job's, not drawn again");
    assert_eq!(app.count("users").await, 1000);

    let other = app
        .client
        .post(app.url("/ingest"))
        .header("Idempotency-Key", "nightly-1")
        .json(&json!({"resource": "users", "quantity": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 409);
    assert_eq!(other.headers()["content-type"], "application/problem+json");

    // Cloud Scheduler's headers are a key too, and survive a restart.
    let scheduled = |app: &TestApp| {
        app.client
            .post(app.url("/export"))
            .header("X-CloudScheduler-JobName", "export-nightly")
            .header("X-CloudScheduler-ScheduleTime", "2026-11-27T02:00:00Z")
            .json(&json!({}))
    };
    let e1 = scheduled(&app).send().await.unwrap();
    assert_eq!(e1.status(), 202);
    let e1: Value = e1.json().await.unwrap();
    let app = app.restart().await;
    let e2 = scheduled(&app).send().await.unwrap();
    assert_eq!(e2.status(), 200);
    let e2: Value = e2.json().await.unwrap();
    assert_eq!(e2["id"], e1["id"]);
}

#[tokio::test]
async fn cancelling_a_job_keeps_its_committed_pages() {
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions { latency_ms: 100, ..FakeApiOptions::default() },
        ..AppOptions::default()
    })
    .await;
    let response = app
        .post("/ingest", &json!({"resource": "users", "quantity": 5000, "page_size": 50, "concurrency": 2, "seed": 1}))
        .await;
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let cancelled: Value = app.post(&format!("/jobs/{id}/cancel"), &json!({})).await.json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let pages = cancelled["pages_done"].as_i64().unwrap();
    assert!(pages > 0 && pages < 100, "{cancelled}");
    assert_eq!(app.count("users").await, pages * 50);
    assert_eq!(cancelled["rows"], pages * 50);
    // Pages that were never fetched are not failures: a resume fetches them.
    assert_eq!(cancelled["failed_pages"], json!([]), "{cancelled}");

    // A finished job cannot be cancelled again; the answer says its state.
    let again = app.post(&format!("/jobs/{id}/cancel"), &json!({})).await;
    assert_eq!(again.status(), 409);
    let problem: Value = again.json().await.unwrap();
    assert_eq!(problem["detail"], format!("job {id} has already finished (cancelled)"));

    // Resumed, it runs again under its id; a second resume meanwhile is a conflict, said as one.
    let resumed = app.post(&format!("/jobs/{id}/resume"), &json!({})).await;
    assert_eq!(resumed.status(), 202);
    let twice = app.post(&format!("/jobs/{id}/resume"), &json!({})).await;
    assert_eq!(twice.status(), 409);
    let problem: Value = twice.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("running") || detail.contains("queued"), "{problem}");
    let stopped: Value = app.post(&format!("/jobs/{id}/cancel"), &json!({})).await.json().await.unwrap();
    assert_eq!(stopped["state"], "cancelled", "{stopped}");
}

#[tokio::test]
async fn a_job_past_its_deadline_fails_keeps_its_pages_and_resumes() {
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions { latency_ms: 150, ..FakeApiOptions::default() },
        ..AppOptions::default()
    })
    .await;
    let job = app
        .ingest(json!({"resource": "users", "quantity": 3000, "page_size": 100, "concurrency": 1, "seed": 2, "deadline_secs": 1}))
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("deadline of 1 s"), "{job}");
    let done = job["pages_done"].as_i64().unwrap();
    assert!(done > 0 && done < 30, "{job}");
    assert_eq!(app.count("users").await, done * 100);

    // The deadline is part of the job's request, so a resume gets it again: lift it by
    // resuming until done (each run fetches only what is missing).
    let id = job["id"].as_str().unwrap();
    let mut last = job.clone();
    for _ in 0..40 {
        last = app.post(&format!("/jobs/{id}/resume?wait=true"), &json!({})).await.json().await.unwrap();
        if last["state"] == "succeeded" {
            break;
        }
    }
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(app.count("users").await, 3000);
    assert_eq!(pages_in_table(&app, "users", &job).await, (0..30).map(|p| (p, 100)).collect::<Vec<_>>());
}
