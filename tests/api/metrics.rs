//! `GET /metrics`: Prometheus text whose numbers match what really happened.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, spawn_app_with};
use duckhaul::fake_api::FakeApiOptions;

/// One sample of the exposition: metric name, labels, value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
            }
        })
        .collect()
}

/// The value of the one sample named `name` carrying `labels` (among others); panics unless
/// exactly one matches.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{name}{labels:?}: {} samples match", found.len());
    found[0].value
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    parse(&response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_count_requests_retries_rows_exports_and_jobs() {
    // Only 429s as faults: then every page is exactly one 200, and every 429 one retry.
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions { rate_429: 0.3, retry_after: 0, fault_seed: Some(11), ..FakeApiOptions::default() },
        max_attempts: 20,
        ..AppOptions::default()
    })
    .await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, "duckhaul_jobs", &[("kind", "ingest"), ("state", "running")]), 0.0);

    let job =
        app.ingest(json!({"resource": "users", "quantity": 2000, "page_size": 200, "seed": 3, "concurrency": 4})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let export = app.export(json!({"tables": ["users"]})).await;
    assert_eq!(export["state"], "succeeded", "{export}");
    let object = &export["objects"][0];

    let stats: Value = app.upstream_stats().await;
    let throttled = stats["faults"]["rate_429"].as_u64().unwrap_or(0) as f64;
    let total = stats["total"].as_u64().unwrap() as f64;
    assert!(throttled > 0.0, "the fake server should have answered some 429s: {stats}");
    assert_eq!(total, 10.0 + throttled, "{stats}");

    let m = scrape(&app).await;
    let users = [("resource", "users")];
    assert_eq!(value(&m, "duckhaul_upstream_requests_total", &[("resource", "users"), ("status", "200")]), 10.0);
    assert_eq!(value(&m, "duckhaul_upstream_requests_total", &[("resource", "users"), ("status", "429")]), throttled);
    assert_eq!(value(&m, "duckhaul_upstream_throttled_total", &users), throttled);
    assert_eq!(value(&m, "duckhaul_upstream_retries_total", &users), throttled);
    assert_eq!(value(&m, "duckhaul_upstream_request_duration_seconds_count", &users), total);
    assert!(value(&m, "duckhaul_upstream_request_duration_seconds_sum", &users) > 0.0);
    assert_eq!(
        value(&m, "duckhaul_upstream_request_duration_seconds_bucket", &[("resource", "users"), ("le", "+Inf")]),
        total
    );

    assert_eq!(value(&m, "duckhaul_rows_written_total", &[("table", "users")]), 2000.0);
    assert_eq!(value(&m, "duckhaul_pages_written_total", &[("table", "users")]), 10.0);
    let commits = value(&m, "duckhaul_commit_duration_seconds_count", &[("result", "ok")]);
    assert!((1.0..=10.0).contains(&commits), "10 pages go in 1 to 10 commits, not {commits}");

    assert_eq!(value(&m, "duckhaul_export_rows_total", &[("table", "users")]), 2000.0);
    assert_eq!(value(&m, "duckhaul_export_bytes_total", &[("table", "users")]), object["bytes"].as_f64().unwrap());
    assert_eq!(value(&m, "duckhaul_exports_total", &[("table", "users"), ("result", "ok")]), 1.0);
    assert_eq!(value(&m, "duckhaul_export_duration_seconds_count", &[("table", "users"), ("result", "ok")]), 1.0);

    assert_eq!(value(&m, "duckhaul_jobs_finished_total", &[("kind", "ingest"), ("state", "succeeded")]), 1.0);
    assert_eq!(value(&m, "duckhaul_jobs_finished_total", &[("kind", "export"), ("state", "succeeded")]), 1.0);
    assert_eq!(value(&m, "duckhaul_jobs", &[("kind", "ingest"), ("state", "running")]), 0.0);
    assert_eq!(value(&m, "duckhaul_jobs", &[("kind", "export"), ("state", "queued")]), 0.0);
}

#[tokio::test]
async fn failures_are_counted_by_status_and_outcome() {
    let app = spawn_app_with(AppOptions { upstream_suffix: "/missing", ..AppOptions::default() }).await;
    let job = app.ingest(json!({"resource": "users", "quantity": 300, "page_size": 100, "seed": 1})).await;
    assert_eq!(job["state"], "failed", "{job}");
    let m = scrape(&app).await;
    // A 404 is permanent: counted once per page, never retried.
    assert_eq!(value(&m, "duckhaul_upstream_requests_total", &[("resource", "users"), ("status", "404")]), 3.0);
    assert!(m.iter().all(|s| s.name != "duckhaul_upstream_retries_total"), "nothing was retried");
    assert_eq!(value(&m, "duckhaul_jobs_finished_total", &[("kind", "ingest"), ("state", "failed")]), 1.0);
    assert!(m.iter().all(|s| s.name != "duckhaul_rows_written_total"), "no row was written");
}
