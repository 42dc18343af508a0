//! `GET /`: the status page, looked at in a real headless Chromium while an ingest runs
//! against a slowed Faker server. Saves screenshots and prints where.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::gcs::FakeGcs;
use crate::helpers::{AppOptions, spawn_app, spawn_app_with};
use duckhaul::fake_api::FakeApiOptions;

/// Where screenshots go: cargo's per-target temp dir (`target/tmp`), kept after the run.
fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page").join(name)
}

/// The job's progress bar as the page shows it: (aria-valuenow, bar width in %), or null.
fn bar_js(id: &str) -> String {
    format!(
        r#"(() => {{
            const bar = document.querySelector('#running .bar[data-job="{id}"]');
            return bar ? [Number(bar.getAttribute('aria-valuenow')), parseFloat(bar.firstElementChild.style.width)] : null;
        }})()"#
    )
}

/// The job's row among recent jobs: [state, text, colour of the state cell], or null.
fn recent_js(id: &str) -> String {
    format!(
        r#"(() => {{
            const row = document.querySelector('#recent tr[data-job="{id}"]');
            return row ? [row.dataset.state, row.innerText, getComputedStyle(row.cells[1]).color] : null;
        }})()"#
    )
}

const RED: &str = "rgb(198, 40, 40)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_progress_moving_the_finished_job_exports_and_failures() {
    let gcs = FakeGcs::start().await;
    let app = spawn_app_with(AppOptions {
        destination: Some("gs://snap/duckhaul".into()),
        gcs_endpoint: Some(gcs.endpoint()),
        // Slow enough that the page, refreshing itself, sees the job run.
        faults: FakeApiOptions { latency_ms: 600, ..FakeApiOptions::default() },
        ..AppOptions::default()
    })
    .await;
    // A failure to show in red: the bucket does not exist yet.
    app.ingest(json!({"resource": "books", "quantity": 50, "seed": 1})).await;
    let failed = app.export(json!({"tables": ["books"]})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let failed_id = failed["id"].as_str().unwrap().to_string();
    gcs.create_bucket("snap").await;

    // The browser first: starting it on a busy machine (the other API tests run beside this
    // one) can take longer than the job, which would then end before the page is looked at.
    let url = app.url("/");
    let browser = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch(900, 1300);
        browser.goto(&url);
        browser
    })
    .await
    .unwrap();

    // 40 pages, 2 at a time, 600 ms each: about twelve seconds to watch.
    let started = app
        .post("/ingest", &json!({"resource": "users", "quantity": 4000, "page_size": 100, "concurrency": 2, "seed": 5}))
        .await;
    assert_eq!(started.status(), 202);
    let job: Value = started.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();

    let (page_id, running_shot) = (id.clone(), screenshot_path("running.png"));
    let (samples, finished, browser) = tokio::task::spawn_blocking(move || {
        let mut browser = browser;
        let id = page_id;
        let mut samples: Vec<(u64, f64)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        let finished = loop {
            assert!(Instant::now() < deadline, "the page never showed job {id} finished; saw {samples:?}");
            if let Some(bar) = browser.eval(&bar_js(&id)).as_array() {
                let sample = (bar[0].as_u64().unwrap(), bar[1].as_f64().unwrap());
                if samples.last() != Some(&sample) {
                    samples.push(sample);
                    if samples.len() == 2 {
                        browser.screenshot(&running_shot);
                    }
                }
            }
            let row = browser.eval(&recent_js(&id));
            if row[0] == "succeeded" && browser.eval(&bar_js(&id)).is_null() {
                break row;
            }
            std::thread::sleep(Duration::from_millis(150));
        };
        (samples, finished, browser)
    })
    .await
    .unwrap();

    // The bar moved forward while the job ran, and its width followed the pages.
    let partial: Vec<&(u64, f64)> = samples.iter().filter(|(done, _)| (1..40).contains(done)).collect();
    assert!(partial.len() >= 2, "the bar should have shown at least two partial states: {samples:?}");
    assert!(samples.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "the bar only moves forward: {samples:?}");
    for (done, width) in &samples {
        assert!((width - *done as f64 * 100.0 / 40.0).abs() < 0.1, "width {width}% for {done} of 40 pages");
    }
    // The finished job is listed with its rows; the job that failed is in red.
    let text = finished[1].as_str().unwrap();
    assert!(text.contains("succeeded") && text.contains("4,000") && text.contains("40 / 40"), "{text}");
    assert_ne!(finished[2], RED);

    // An export: its object URI and the tables appear on the next refresh.
    let export = app.export(json!({"tables": ["users"]})).await;
    assert_eq!(export["state"], "succeeded", "{export}");
    let uri = export["objects"][0]["uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("gs://snap/duckhaul/users/"), "{uri}");
    let final_shot = screenshot_path("finished.png");
    let (shown, failure) = tokio::task::spawn_blocking(move || {
        let mut browser = browser;
        let deadline = Instant::now() + Duration::from_secs(30);
        let exports_js = r#"document.querySelector('#exports tr[data-table="users"]')?.innerText ?? null"#;
        let shown = loop {
            if let Some(text) = browser.eval(exports_js).as_str() {
                break text.to_string();
            }
            assert!(Instant::now() < deadline, "the export never appeared on the page");
            std::thread::sleep(Duration::from_millis(150));
        };
        let failure = browser.eval(&recent_js(&failed_id));
        let tables = browser.eval(r#"document.getElementById('tables').innerText"#);
        browser.screenshot(&final_shot);
        browser.resize(390, 844);
        browser.screenshot(&final_shot.with_file_name("phone.png"));
        (format!("{shown}\n{tables}"), failure)
    })
    .await
    .unwrap();
    assert!(shown.contains(&uri) && shown.contains("4,000"), "{shown}");
    assert!(shown.contains("books") && shown.contains("50"), "{shown}");
    assert_eq!(failure[0], "failed");
    assert_eq!(failure[2], RED, "a failed job's state is red");
    assert!(failure[1].as_str().unwrap().contains("books"), "{failure}");
    println!("status page screenshots: {}", screenshot_path("").display());
}

#[tokio::test]
async fn the_status_page_is_one_self_contained_html_document() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(html.contains("fetch(\"/status\""), "the page refreshes itself from /status");
    // No external assets: nothing is loaded from another origin.
    for needle in ["http://", "https://", "src=", "<link"] {
        assert!(!html.contains(needle), "the page references {needle}");
    }
}
