//! `POST /ingest` with a described source, against the bundled fake's generic mode: the request
//! checked against the loaded files (unknown source or resource, Faker's fields), a table that
//! another resource owns, and the clear failure of an upstream that does not answer as the
//! file says (no records at the pointer, a record that does not fit a declared type).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{AppOptions, TestApp, spawn_app_with, spawn_upstream};

/// A source `gen` on the generic fake at `base`: accounts (users by offset), plus resources that misread it.
fn generic_source(base: &str) -> String {
    format!(
        r#"
base_url = "{base}"
rate_limit_per_minute = 0

[resources.accounts]
path = "/generic/offset/users"
params = {{ total = 120 }}
records = "/data"
pagination = {{ kind = "offset", offset_param = "offset", limit_param = "limit", page_size = 50, total = "/meta/total" }}

# Faker's users table, taken by another resource.
[resources.people]
path = "/generic/offset/users"
table = "users"
params = {{ total = 10 }}
records = "/data"

# The offset pages keep their records at /data: nothing at /records.
[resources.misplaced]
path = "/generic/offset/users"
params = {{ total = 10 }}
records = "/records/list"

# An email is no number.
[resources.typed]
path = "/generic/offset/users"
params = {{ total = 10 }}
records = "/data"
[resources.typed.columns]
email = "BIGINT"
"#
    )
}

/// The app with a sources folder holding `gen.toml`, on a generic fake of its own; the dir must
/// outlive the app.
async fn app_with_generic_source() -> (TestApp, tempfile::TempDir, tokio_util::sync::CancellationToken) {
    let (upstream, stop) = spawn_upstream(duckhaul::fake_api::FakeApiOptions::default()).await;
    let base = upstream.trim_end_matches("/api/v2");
    let dir = tempfile::tempdir().unwrap();
    let sources: PathBuf = dir.path().join("sources");
    std::fs::create_dir(&sources).unwrap();
    std::fs::write(sources.join("gen.toml"), generic_source(base)).unwrap();
    let app = spawn_app_with(AppOptions { sources_dir: Some(sources), ..AppOptions::default() }).await;
    (app, dir, stop)
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status, "{problem}");
    problem
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().map_or(Vec::new(), |e| e.iter().map(|e| e["field"].as_str().unwrap()).collect())
}

#[tokio::test]
async fn a_source_ingest_request_is_checked_against_the_loaded_files() {
    let (app, _dir, _stop) = app_with_generic_source().await;

    let unknown = problem(app.post("/ingest", &json!({"source": "nope", "resource": "users"})).await, 422).await;
    assert_eq!(fields(&unknown), ["source"], "{unknown}");
    let detail = unknown["errors"][0]["message"].to_string();
    assert!(detail.contains("nope") && detail.contains("faker") && detail.contains("gen"), "{unknown}");

    let resource = problem(app.post("/ingest", &json!({"source": "gen", "resource": "orders"})).await, 422).await;
    assert_eq!(fields(&resource), ["resource"], "{resource}");
    assert!(resource.to_string().contains("orders"), "{resource}");

    // Faker's fields mean nothing to another API: each one refused by name, not ignored.
    let faker_only = [
        ("seed", json!(5)),
        ("locale", json!("de_DE")),
        ("page_size", json!(10)),
        ("params", json!({"gender": "female"})),
        ("fields", json!({"a": "word"})),
        ("table", json!("elsewhere")),
    ];
    for (field, value) in &faker_only {
        let mut body = json!({"source": "gen", "resource": "accounts"});
        body[field] = value.clone();
        let refused = problem(app.post("/ingest", &body).await, 422).await;
        assert_eq!(fields(&refused), [*field], "{body}: {refused}");
    }
    // All at once: all named.
    let mut body = json!({"source": "gen", "resource": "accounts"});
    for (field, value) in &faker_only {
        body[field] = value.clone();
    }
    let all = problem(app.post("/ingest", &body).await, 422).await;
    let mut named = fields(&all);
    named.sort_unstable();
    assert_eq!(named, ["fields", "locale", "page_size", "params", "seed", "table"], "{all}");

    // Nothing was started or written.
    let status = app.status().await;
    assert_eq!(status["tables"], json!([]), "{status}");
    assert_eq!(status["recent_jobs"], json!([]), "{status}");

    // The same request without them goes through: 120 users in 3 pages.
    let job = app.ingest(json!({"source": "gen", "resource": "accounts"})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!((job["rows"].as_i64(), job["pages_done"].as_i64()), (Some(120), Some(3)), "{job}");
    assert_eq!(app.count("accounts").await, 120);
    // The schema inferred from the first page is recorded and listed, the fake's index first.
    let listed: Vec<Value> = app.get("/sources").await.json().await.unwrap();
    let listed_gen = listed.iter().find(|s| s["name"] == "gen").unwrap();
    let schema = listed_gen["resources"][0]["schema"].as_array().unwrap_or_else(|| panic!("{listed_gen}"));
    assert_eq!(schema[..2], [json!({"name": "_index", "type": "BIGINT"}), json!({"name": "id", "type": "BIGINT"})]);
    assert!(schema.contains(&json!({"name": "email", "type": "VARCHAR"})), "{listed_gen}");
    assert_eq!(listed_gen["resources"][1]["schema"], Value::Null, "{listed_gen}");
}

#[tokio::test]
async fn a_source_resource_may_not_write_into_a_faker_table() {
    let (app, _dir, _stop) = app_with_generic_source().await;
    let faker = app.ingest(json!({"resource": "users", "quantity": 10, "seed": 1})).await;
    assert_eq!(faker["state"], "succeeded", "{faker}");

    let conflict = problem(app.post("/ingest", &json!({"source": "gen", "resource": "people"})).await, 409).await;
    let detail = conflict["detail"].as_str().unwrap();
    assert!(detail.contains("users") && detail.contains("gen.toml"), "{conflict}");
    // Faker's rows are untouched.
    assert_eq!(app.count("users").await, 10);
}

#[tokio::test]
async fn records_not_at_the_pointer_fail_the_job_naming_the_pointer() {
    let (app, _dir, _stop) = app_with_generic_source().await;
    let job = app.ingest(json!({"source": "gen", "resource": "misplaced"})).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["rows"], 0, "{job}");
    let failures = job["failed_pages"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{job}");
    let error = failures[0]["error"].as_str().unwrap();
    assert!(error.contains("/records/list"), "the pointer is not named: {error}");
    assert!(error.contains("not an array") || error.contains("no array"), "{error}");
    // No table was made from a page that had no records.
    let tables = app.status().await["tables"].clone();
    assert!(tables.as_array().unwrap().iter().all(|t| t["name"] != "misplaced"), "{tables}");
}

#[tokio::test]
async fn a_record_that_does_not_fit_a_declared_type_is_quarantined_naming_the_field() {
    let (app, _dir, _stop) = app_with_generic_source().await;
    let job = app.ingest(json!({"source": "gen", "resource": "typed"})).await;
    // Declared columns never change: every record (an email is no number) is kept out of the
    // table, whole, and counted; none is lost.
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!((job["rows"].as_u64(), job["quarantined"].as_u64()), (Some(0), Some(10)), "{job}");
    assert_eq!(app.count("typed").await, 0);
    assert_eq!(app.count("typed__quarantine").await, 10);
    let reasons = app.query("SELECT DISTINCT field, _page FROM typed__quarantine").await;
    assert_eq!(reasons, [[json!("/email"), json!(0)]]);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"duckhaul_rows_quarantined_total{table="typed"} 10"#), "{metrics}");

    // The status page says so, beside the job.
    let url = app.url("/");
    let shown = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch(900, 1300);
        browser.goto(&url);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(text) = browser.eval("document.querySelector('.quarantined')?.textContent ?? null").as_str() {
                break text.to_string();
            }
            assert!(Instant::now() < deadline, "the quarantine never appeared on the page");
            std::thread::sleep(Duration::from_millis(150));
        }
    })
    .await
    .unwrap();
    assert_eq!(shown, "10 records quarantined in typed__quarantine");
}
