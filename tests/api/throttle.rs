//! Throttled upstreams, against both limiter shapes of the bundled fake: Laravel's window (the
//! public API's `throttle:30,1`) and nginx's token bucket (`limit_req`, burst 5).
//!
//! The clock is scaled down twenty times so the suite stays fast: the fake allows 600 requests
//! a minute (30 per 3 s window, or a bucket of 5 refilled 10 a second) and duckhaul is told
//! 600, with its default burst. That is the default case (30/min against 30/min) at speed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, spawn_app_with};
use duckhaul::fake_api::FakeApiOptions;

/// Requests per minute the fake allows, and duckhaul's configured rate when it is right.
const RATE: u32 = 600;
/// The window's length: RATE per minute is 30 per window, as the public API's 30 per minute.
const WINDOW: Duration = Duration::from_secs(3);
/// The bucket's size, as nginx's `burst=5`.
const BUCKET: u32 = 5;

#[derive(Debug, Clone, Copy)]
enum Shape {
    Window,
    Bucket,
}

impl Shape {
    /// The fake upstream's limiter at `per_minute`, sending `RateLimit-*` headers or not.
    fn upstream(self, per_minute: u32, rate_limit_headers: bool) -> FakeApiOptions {
        let options = FakeApiOptions { rate_limit_headers, ..FakeApiOptions::default() };
        match self {
            Shape::Window => FakeApiOptions {
                throttle_per_minute: self.window_quota(per_minute),
                throttle_window_ms: WINDOW.as_millis() as u64,
                ..options
            },
            Shape::Bucket => FakeApiOptions { bucket_per_minute: per_minute, bucket_burst: BUCKET, ..options },
        }
    }

    fn window_quota(self, per_minute: u32) -> u32 {
        (u128::from(per_minute) * WINDOW.as_millis() / 60_000) as u32
    }

    /// Requests the limiter accepts in `elapsed` from a quiet start: its allowance.
    fn allowance(self, per_minute: u32, elapsed: Duration) -> f64 {
        match self {
            Shape::Window => {
                let windows = (elapsed.as_secs_f64() / WINDOW.as_secs_f64()).floor() + 1.0;
                f64::from(self.window_quota(per_minute)) * windows
            }
            Shape::Bucket => f64::from(BUCKET) + f64::from(per_minute) / 60.0 * elapsed.as_secs_f64(),
        }
    }
}

async fn app(upstream: FakeApiOptions, rate_limit: u32) -> TestApp {
    spawn_app_with(AppOptions { faults: upstream, rate_limit, ..AppOptions::default() }).await
}

/// What the fake answered on `/api/v2/users`: (200s, 429s).
async fn answers(app: &TestApp) -> (u64, u64) {
    let stats: Value = app.upstream_stats().await;
    let users = &stats["paths"]["/api/v2/users"];
    (users["200"].as_u64().unwrap_or(0), users["429"].as_u64().unwrap_or(0))
}

/// From the first job's start to the last one's end.
fn elapsed(jobs: &[&Value]) -> Duration {
    let at = |job: &Value, key: &str| job[key].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let start = jobs.iter().map(|j| at(j, "started_at")).min().unwrap();
    let end = jobs.iter().map(|j| at(j, "finished_at")).max().unwrap();
    (end - start).to_std().unwrap()
}

async fn users_pages(app: &TestApp, job: &Value) -> Vec<(i64, i64)> {
    let id = job["id"].as_str().unwrap();
    let sql = format!("SELECT _page, count(*) FROM users WHERE _job_id = '{id}' GROUP BY _page ORDER BY _page");
    app.query(&sql).await.into_iter().map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap())).collect()
}

fn whole(pages: i64) -> Vec<(i64, i64)> {
    (0..pages).map(|p| (p, 10)).collect()
}

/// 30 pages of 10 users (each page one request).
fn thirty_pages(seed: i64) -> Value {
    json!({"resource": "users", "quantity": 300, "page_size": 10, "seed": seed})
}

async fn a_job_at_the_upstreams_rate_uses_its_allowance(shape: Shape) {
    let app = app(shape.upstream(RATE, false), RATE).await;
    let job = app.ingest(thirty_pages(1)).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!((job["rows"].as_i64(), app.count("users").await), (Some(300), 300));
    assert_eq!(users_pages(&app, &job).await, whole(30));

    let (ok, throttled) = answers(&app).await;
    assert_eq!(ok, 30);
    assert!(throttled <= 3, "{shape:?}: {throttled} answers 429");
    assert_eq!(job["throttled"], throttled);
    let elapsed = elapsed(&[&job]);
    let share = ok as f64 / shape.allowance(RATE, elapsed);
    println!("{shape:?}: 30 pages in {elapsed:?}, {:.1}% of the allowance, {throttled} answers 429", share * 100.0);
    assert!(share >= 0.9, "{shape:?}: {:.1}% of the allowance in {elapsed:?}", share * 100.0);
    let pace = job["pace_per_minute"].as_f64().unwrap();
    if throttled == 0 {
        assert_eq!(pace, f64::from(RATE), "the configured rate, untouched");
    } else {
        assert!(pace <= f64::from(RATE), "{pace}");
    }
}

#[tokio::test]
async fn a_job_paced_at_a_windows_rate_uses_its_allowance_and_succeeds() {
    a_job_at_the_upstreams_rate_uses_its_allowance(Shape::Window).await;
}

#[tokio::test]
async fn a_job_paced_at_a_token_buckets_rate_uses_its_allowance_and_succeeds() {
    a_job_at_the_upstreams_rate_uses_its_allowance(Shape::Bucket).await;
}

async fn two_jobs_on_one_path_share_its_budget(shape: Shape) {
    let app = app(shape.upstream(RATE, false), RATE).await;
    // 40 requests in all: more than one window's 30, and twice a bucket's pace if each job
    // paced itself.
    let first = json!({"resource": "users", "quantity": 200, "page_size": 10, "seed": 1});
    let second = json!({"resource": "users", "quantity": 200, "page_size": 10, "seed": 1000});
    let (a, b) = tokio::join!(app.ingest(first), app.ingest(second));
    for job in [&a, &b] {
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["rows"], 200);
        assert_eq!(users_pages(&app, job).await, whole(20));
    }
    assert_eq!(app.count("users").await, 400);
    let (ok, throttled) = answers(&app).await;
    assert_eq!(ok, 40);
    assert!(throttled <= 3, "{shape:?}: {throttled} answers 429");
    assert_eq!(a["throttled"].as_u64().unwrap() + b["throttled"].as_u64().unwrap(), throttled);
    let elapsed = elapsed(&[&a, &b]);
    let share = ok as f64 / shape.allowance(RATE, elapsed);
    println!(
        "{shape:?}: two jobs of 20 pages in {elapsed:?}, {:.1}% of the allowance, {throttled} answers 429",
        share * 100.0
    );
}

#[tokio::test]
async fn two_jobs_on_one_path_share_a_windows_budget_and_both_end_whole() {
    two_jobs_on_one_path_share_its_budget(Shape::Window).await;
}

#[tokio::test]
async fn two_jobs_on_one_path_share_a_token_buckets_budget_and_both_end_whole() {
    two_jobs_on_one_path_share_its_budget(Shape::Bucket).await;
}

async fn ratelimit_headers_pace_a_client_set_too_fast(shape: Shape) {
    // duckhaul is told twice the upstream's rate: only the headers keep it from 429s.
    let app = app(shape.upstream(RATE, true), 2 * RATE).await;
    let job = app.ingest(json!({"resource": "users", "quantity": 400, "page_size": 10, "seed": 5})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(users_pages(&app, &job).await, whole(40));
    let (ok, throttled) = answers(&app).await;
    assert_eq!((ok, throttled), (40, 0), "{shape:?}: paced by the headers, never refused");
    assert_eq!(job["throttled"], 0);
    let elapsed = elapsed(&[&job]);
    let share = ok as f64 / shape.allowance(RATE, elapsed);
    println!("{shape:?} with RateLimit-*: 40 pages in {elapsed:?}, {:.1}% of the allowance, no 429", share * 100.0);
}

#[tokio::test]
async fn ratelimit_headers_from_a_window_pace_the_client_with_no_429() {
    ratelimit_headers_pace_a_client_set_too_fast(Shape::Window).await;
}

#[tokio::test]
async fn ratelimit_headers_from_a_token_bucket_pace_the_client_with_no_429() {
    ratelimit_headers_pace_a_client_set_too_fast(Shape::Bucket).await;
}

#[tokio::test]
async fn a_429_spends_none_of_a_pages_attempts() {
    // One attempt per page, and duckhaul told twice the bucket's rate: 429s come, yet every
    // page is fetched, since a 429 only sends the page back to wait its turn.
    let app = spawn_app_with(AppOptions {
        faults: Shape::Bucket.upstream(RATE, false),
        rate_limit: 2 * RATE,
        max_attempts: 1,
        ..AppOptions::default()
    })
    .await;
    let job = app.ingest(json!({"resource": "users", "quantity": 200, "page_size": 10, "seed": 3})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(users_pages(&app, &job).await, whole(20));
    let (ok, throttled) = answers(&app).await;
    assert_eq!(ok, 20);
    assert!(throttled > 0, "the bucket refused some requests");
    assert_eq!((job["throttled"].as_u64(), job["retries"].as_u64()), (Some(throttled), Some(throttled)));
}

/// One sample of `/metrics` by name and `resource` label.
async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!("{name}{{resource=\"users\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
}

async fn a_deadline_reached_under_throttling(shape: Shape) {
    // The upstream allows a fifth of what duckhaul is told (another client spends the rest,
    // say): 429s come, the pace drops, and the 2 s deadline ends the job before its 16 pages.
    let upstream_rate = RATE * 2 / 5;
    let app = app(shape.upstream(upstream_rate, false), 2 * RATE).await;
    let request = json!({"resource": "users", "quantity": 160, "page_size": 10, "seed": 9, "deadline_secs": 2});
    let job = app.ingest(request).await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(error.starts_with("the job's deadline of 2 s passed with"), "{error}");
    assert!(error.contains("the upstream throttled it") && error.contains("resume it to finish"), "{error}");
    assert!(job["failed_pages"].as_array().unwrap().is_empty(), "no page was given up: {job}");

    let (_, throttled) = answers(&app).await;
    assert!(throttled > 0, "{shape:?}");
    assert_eq!(job["throttled"], throttled);
    assert!(error.contains(&format!("({throttled} answers 429 Too Many Requests in this run, paced at ")), "{error}");
    let pace = job["pace_per_minute"].as_f64().unwrap();
    assert!(pace < f64::from(2 * RATE), "the pace dropped: {job}");
    println!("{shape:?} deadline: {} of 16 pages stored, {throttled} answers 429, pace {pace}/min", job["pages_done"]);
    assert_eq!(metric(&app, "duckhaul_upstream_throttled_total").await, Some(throttled as f64));
    assert_eq!(metric(&app, "duckhaul_upstream_pace_requests_per_minute").await, Some(pace));

    // The pages stored are whole, and resuming fetches the rest.
    let done = job["pages_done"].as_i64().unwrap();
    assert!(done > 0 && done < 16, "{job}");
    let stored = users_pages(&app, &job).await;
    assert_eq!(stored.len() as i64, done, "{stored:?}");
    assert!(stored.iter().all(|(_, rows)| *rows == 10), "{stored:?}");
    assert_eq!(app.count("users").await, done * 10);
    let id = job["id"].as_str().unwrap();
    let mut last = job.clone();
    for _ in 0..30 {
        last = app.post(&format!("/jobs/{id}/resume?wait=true"), &json!({})).await.json().await.unwrap();
        if last["state"] == "succeeded" {
            break;
        }
    }
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(users_pages(&app, &job).await, whole(16));
    assert_eq!(app.count("users").await, 160);
}

#[tokio::test]
async fn a_deadline_under_a_windows_throttle_fails_saying_so_and_resumes() {
    a_deadline_reached_under_throttling(Shape::Window).await;
}

#[tokio::test]
async fn a_deadline_under_a_token_buckets_throttle_fails_saying_so_and_resumes() {
    a_deadline_reached_under_throttling(Shape::Bucket).await;
}
