//! At scale, at default settings: a nested ingest past the point where DuckDB used to
//! invalidate the database. Its own test binary, so its minute of CPU does not run beside the
//! timing-sensitive tests of `tests/api` (cargo runs test binaries one after another).

#[path = "api/helpers.rs"]
mod helpers;

use serde_json::json;

use helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nested_ingest_past_the_old_failure_point_lands_whole_at_default_settings() {
    // 300,000 companies (STRUCT and LIST of STRUCT columns) invalidated the database at
    // 288,000 rows under the 48 MB default: its checkpoint could not allocate.
    let app = spawn_app().await;
    let job = app.ingest(json!({"resource": "companies", "quantity": 300_000, "seed": 3})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["rows"], 300_000);
    assert_eq!(app.count("companies").await, 300_000);
    assert_eq!(app.metric("duckhaul_database_reopens_total").await, 0.0);
    let status = app.status().await;
    assert_eq!(status["database_health"]["state"], "ready");
    let tables = status["tables"].as_array().unwrap();
    assert!(tables.iter().any(|t| t["name"] == "companies" && t["rows"] == 300_000), "{status}");
    assert_eq!(app.get("/healthz").await.status(), 200);
}
