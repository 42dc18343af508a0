//! Every bad request gets a 4xx problem+json naming what is wrong, and writes nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn assert_problem(app: &TestApp, response: reqwest::Response, status: u16, mentions: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status);
    let text = problem.to_string();
    assert!(text.contains(mentions), "{mentions:?} not in {text}");
    let _ = app;
    problem
}

async fn assert_nothing_written(app: &TestApp) {
    let status = app.status().await;
    assert_eq!(status["tables"], json!([]), "{status}");
    assert_eq!(status["recent_jobs"], json!([]), "{status}");
}

#[tokio::test]
async fn bad_ingest_requests_are_422_and_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"resource": "dragons", "quantity": 10}), "resource"),
        (json!({"resource": "users", "quantity": 0}), "quantity"),
        (json!({"resource": "users", "quantity": 10_000_001}), "quantity"),
        (json!({"resource": "users", "quantity": 10, "page_size": 2000}), "page_size"),
        (json!({"resource": "users", "quantity": 10, "concurrency": 0}), "concurrency"),
        (json!({"resource": "users", "quantity": 10, "locale": "english"}), "locale"),
        (json!({"resource": "users", "quantity": 10, "seed": -1}), "seed"),
        // The upstream reads seed 0 as no seed, and keeps 32 bits of one: 3 pages from
        // 2^32 - 3 would reach 2^32.
        (json!({"resource": "users", "quantity": 10, "seed": 0}), "seed"),
        (json!({"resource": "users", "quantity": 3, "page_size": 1, "seed": 4_294_967_293_i64}), "seed"),
        (json!({"resource": "texts", "quantity": 10, "params": {"characters": 9}}), "params.characters"),
        (json!({"resource": "users", "quantity": 10, "params": {"width": 5}}), "params.width"),
        (json!({"resource": "persons", "quantity": 10, "params": {"gender": "robot"}}), "params.gender"),
        (json!({"resource": "users", "quantity": 10, "fields": {"a": "word"}}), "fields"),
        (json!({"resource": "custom", "quantity": 10, "fields": {"a": "word"}}), "table"),
        (
            json!({"resource": "custom", "quantity": 10, "table": "Robert'); DROP TABLE users;--", "fields": {"a": "word"}}),
            "table",
        ),
        (json!({"resource": "custom", "quantity": 10, "table": "duckhaul_jobs", "fields": {"a": "word"}}), "table"),
        (json!({"resource": "custom", "quantity": 10, "table": "t", "fields": {"a": "teleport"}}), "fields.a"),
        (json!({"resource": "custom", "quantity": 10, "table": "t"}), "fields"),
    ];
    for (body, field) in cases {
        let response = app.post("/ingest", &body).await;
        let problem = assert_problem(&app, response, 422, field).await;
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "{body}: {problem}");
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn requests_the_real_upstream_would_fail_or_answer_at_random_say_why() {
    let app = spawn_app().await;
    let cases = [
        (json!({"resource": "texts", "quantity": 10, "params": {"characters": 5}}), "must be 10 or more"),
        (json!({"resource": "users", "quantity": 10, "seed": 0}), "treats seed 0 as no seed"),
        (json!({"resource": "users", "quantity": 2000, "seed": 4_294_967_294_i64}), "must stay below 2^32"),
    ];
    for (body, says) in cases {
        let response = app.post("/ingest", &body).await;
        assert_problem(&app, response, 422, says).await;
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn unreadable_bodies_get_their_own_status() {
    let app = spawn_app().await;
    let r = app.post_raw("/ingest", "application/json", "{\"resource\": \"users\", ").await;
    assert_problem(&app, r, 400, "JSON").await;
    let r = app.post_raw("/ingest", "text/plain", "{}").await;
    assert_problem(&app, r, 415, "Content-Type").await;
    let r = app.post("/ingest", &json!({"resource": "users", "quantity": 10, "colour": "red"})).await;
    assert_problem(&app, r, 422, "colour").await;
    let r = app.post("/ingest", &json!({"resource": "users", "quantity": "ten"})).await;
    assert_problem(&app, r, 422, "quantity").await;
    let r = app.post("/ingest", &json!({"quantity": 10})).await;
    assert_problem(&app, r, 422, "resource").await;
    let r = app.post("/ingest?wait=perhaps", &json!({"resource": "users", "quantity": 10})).await;
    assert_problem(&app, r, 400, "wait").await;
    let r = app.post("/export", &json!({"tables": ["nope"]})).await;
    assert_problem(&app, r, 422, "tables[0]").await;
    let r = app.post("/export", &json!({"mode": "everything"})).await;
    assert_problem(&app, r, 422, "mode").await;
    let r = app.post("/export", &json!({})).await;
    assert_problem(&app, r, 422, "no tables").await;
    let r = app.get("/jobs/does-not-exist").await;
    assert_problem(&app, r, 404, "does-not-exist").await;
    let r = app.get("/nowhere").await;
    assert_problem(&app, r, 404, "/nowhere").await;
    let r = app.client.delete(app.url("/ingest")).send().await.unwrap();
    assert_problem(&app, r, 405, "DELETE").await;
    assert_nothing_written(&app).await;
}
