//! `GET /jobs`: every job newest first, a page at a time (each job on exactly one page), the
//! `Link` header to the next page, filters by state and kind, live progress, and problem+json
//! naming the bad parameter.

use std::time::{Duration, Instant};

use duckhaul::fake_api::FakeApiOptions;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, spawn_app, spawn_app_with, users};

/// `GET path`: asserts 200 and returns the page with its `Link` header.
async fn page(app: &TestApp, path: &str) -> (Value, Option<String>) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let link = response.headers().get("link").map(|l| l.to_str().unwrap().to_string());
    (response.json().await.unwrap(), link)
}

fn ids(page: &Value) -> Vec<String> {
    page["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn jobs_are_listed_newest_first_each_on_exactly_one_page() {
    let app = spawn_app().await;
    let mut started = Vec::new();
    for seed in 1..=6 {
        started.push(app.ingest(users(10, seed)).await["id"].as_str().unwrap().to_string());
    }
    started.push(app.export(json!({"tables": ["users"]})).await["id"].as_str().unwrap().to_string());
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();

    // One page of the default size holds them all, with nothing after it.
    let (all, link) = page(&app, "/jobs").await;
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["next"], Value::Null);
    assert_eq!(link, None);
    assert_eq!(all["jobs"][0]["kind"], "export");
    assert_eq!(all["jobs"][6]["request"]["seed"], 1);
    assert_eq!(all["jobs"][6]["rows"], 10);

    // Pages of 3, followed by `next`: 3 + 3 + 1, in order, none twice, none missing; a job
    // started meanwhile is newer than the first page and does not shift the later ones.
    let (first, link) = page(&app, "/jobs?limit=3").await;
    assert_eq!(ids(&first), newest_first[..3]);
    let cursor = first["next"].as_str().unwrap().to_string();
    assert_eq!(cursor, newest_first[2]);
    assert_eq!(link.as_deref(), Some(format!("</jobs?limit=3&cursor={cursor}>; rel=\"next\"").as_str()));
    let late = app.ingest(users(10, 7)).await["id"].as_str().unwrap().to_string();
    let (second, _) = page(&app, &format!("/jobs?limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&second), newest_first[3..6]);
    // The Link header is the way to the next page as it is.
    let (_, link) = page(&app, &format!("/jobs?limit=3&cursor={cursor}")).await;
    let target = link.unwrap().strip_prefix('<').unwrap().split_once('>').unwrap().0.to_string();
    let (third, link) = page(&app, &target).await;
    assert_eq!(ids(&third), newest_first[6..]);
    assert_eq!((third["next"].clone(), link), (Value::Null, None));

    // The newest page now starts with the late job; /status's recent jobs are the same list.
    let (newest, _) = page(&app, "/jobs?limit=1").await;
    assert_eq!(ids(&newest), [late.clone()]);
    let status = app.status().await;
    let recent: Vec<&str> =
        status["recent_jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(recent, std::iter::once(&late).chain(&newest_first).map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test]
async fn filters_by_state_and_kind_and_shows_live_progress() {
    // 300 ms a page, one at a time: the last ingest runs for seconds.
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions { latency_ms: 300, ..FakeApiOptions::default() },
        ..AppOptions::default()
    })
    .await;
    let users_job = app.ingest(users(100, 1)).await;
    let books = app.ingest(json!({"resource": "books", "quantity": 100, "seed": 2})).await;
    let export = app.export(json!({"tables": ["users"]})).await;
    let slow = app
        .post("/ingest", &json!({"resource": "users", "quantity": 4000, "page_size": 100, "concurrency": 1, "seed": 3}))
        .await;
    assert_eq!(slow.status(), 202);
    let slow: Value = slow.json().await.unwrap();
    let slow_id = slow["id"].as_str().unwrap().to_string();

    // While it runs, the list shows its progress as it stands (its saved record says 0 pages).
    let deadline = Instant::now() + Duration::from_secs(60);
    let live = loop {
        let (running, _) = page(&app, "/jobs?state=running").await;
        let jobs = running["jobs"].as_array().unwrap();
        if let Some(job) = jobs.first().filter(|j| j["pages_done"].as_u64().unwrap() >= 2) {
            assert_eq!(ids(&running), [slow_id.clone()]);
            break job.clone();
        }
        assert!(Instant::now() < deadline, "never saw the ingest running with pages done: {running}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(live["rows"].as_u64().unwrap() % 100, 0, "{live}");
    assert!(live["rows_per_second"].as_f64().unwrap() > 0.0, "{live}");
    assert!(live["eta_seconds"].as_f64().unwrap() > 0.0, "{live}");
    let saved = app.query(&format!("SELECT pages_done FROM duckhaul_jobs WHERE id = '{slow_id}'")).await;
    assert_eq!(saved, [[json!(0)]], "a running job's record is saved only as its state changes");

    let cancelled: Value =
        app.client.post(app.url(&format!("/jobs/{slow_id}/cancel"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled");

    let id = |job: &Value| job["id"].as_str().unwrap().to_string();
    let (only_cancelled, _) = page(&app, "/jobs?state=cancelled").await;
    assert_eq!(ids(&only_cancelled), [slow_id.clone()]);
    assert_eq!(only_cancelled["jobs"][0]["pages_done"], cancelled["pages_done"]);
    let (exports, _) = page(&app, "/jobs?kind=export").await;
    assert_eq!(ids(&exports), [id(&export)]);
    let (done, _) = page(&app, "/jobs?kind=ingest&state=succeeded").await;
    assert_eq!(ids(&done), [id(&books), id(&users_job)]);
    let (none, _) = page(&app, "/jobs?state=failed").await;
    assert_eq!(none, json!({"jobs": [], "next": null}));

    // Paged with a filter, the Link header keeps it.
    let (first, link) = page(&app, "/jobs?kind=ingest&limit=1").await;
    assert_eq!(ids(&first), [slow_id.clone()]);
    assert_eq!(link.unwrap(), format!("</jobs?limit=1&kind=ingest&cursor={slow_id}>; rel=\"next\""));
    let (second, _) = page(&app, &format!("/jobs?limit=1&kind=ingest&cursor={slow_id}")).await;
    assert_eq!(ids(&second), [id(&books)]);
}

#[tokio::test]
async fn bad_parameters_are_problems_that_name_them() {
    let app = spawn_app().await;
    app.ingest(users(10, 1)).await;
    let cases = [
        ("/jobs?limit=0", 422, "limit"),
        ("/jobs?limit=1001", 422, "limit"),
        ("/jobs?limit=-1", 400, "limit"),
        ("/jobs?limit=ten", 400, "limit"),
        ("/jobs?cursor=page-2", 422, "cursor"),
        ("/jobs?state=sleeping", 400, "state"),
        ("/jobs?kind=backup", 400, "kind"),
        ("/jobs?sort=asc", 400, "sort"),
    ];
    for (path, status, field) in cases {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], status, "{path}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains(field), "{path}: {problem}");
        if status == 422 {
            assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
        }
    }
    // Both wrong at once: both named.
    let problem: Value = app.get("/jobs?limit=5000&cursor=x").await.json().await.unwrap();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["limit", "cursor"]);
    // The largest page is allowed.
    let (all, _) = page(&app, "/jobs?limit=1000").await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 1);
}
