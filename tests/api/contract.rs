//! The HTTP contract beyond the endpoints themselves: the docs page, problem+json from every
//! layer (413, 415, 404, 405), bearer-token auth, the job cap (429) and the wait cap.

use std::time::Duration;

use duckhaul::config::HttpConfig;
use duckhaul::fake_api::FakeApiOptions;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, spawn_app, spawn_app_with, users};

const TOKEN: &str = "test-token-0123456789abcdef";

fn content_type(response: &reqwest::Response) -> String {
    response.headers()["content-type"].to_str().unwrap().to_string()
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(content_type(&response), "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status, "{body}");
    body
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_from_the_binary() {
    let app = spawn_app().await;
    let page = app.get("/docs").await;
    assert_eq!(page.status(), 200);
    assert_eq!(content_type(&page), "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"src="docs/swagger-ui-bundle.js""#) && html.contains(r#"url: "openapi.json""#), "{html}");
    assert!(!html.contains("https://"), "the page must not load anything from the network");

    let js = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(js.status(), 200);
    assert_eq!(content_type(&js), "text/javascript; charset=utf-8");
    assert!(js.text().await.unwrap().contains("SwaggerUIBundle"));
    let css = app.get("/docs/swagger-ui.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(content_type(&css), "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains(".swagger-ui"));

    let spec = app.get("/openapi.json").await;
    assert_eq!(spec.status(), 200);
    let spec: Value = spec.json().await.unwrap();
    assert_eq!(spec, serde_json::to_value(duckhaul::api::openapi()).unwrap());
}

#[tokio::test]
async fn every_layer_answers_problem_json() {
    let app = spawn_app_with(AppOptions {
        http: HttpConfig { body_limit_bytes: 2048, ..HttpConfig::default() },
        ..AppOptions::default()
    })
    .await;

    let big = json!({"resource": "users", "quantity": 10, "locale": "x".repeat(4096)});
    let body = problem(app.post("/ingest", &big).await, 413).await;
    assert_eq!(body["type"], "/problems/body-too-large");
    let body = problem(app.post_raw("/export", "text/plain", "{}").await, 415).await;
    assert_eq!(body["type"], "/problems/unreadable-request");
    let body = problem(app.post_raw("/ingest", "application/json", "{not json").await, 400).await;
    assert_eq!(body["type"], "/problems/unreadable-request");
    let body = problem(app.get("/nowhere").await, 404).await;
    assert_eq!(body["detail"], "no route for /nowhere");
    let body = problem(app.get("/ingest").await, 405).await;
    assert_eq!(body["type"], "/problems/method-not-allowed");
    let body = problem(app.get("/jobs/%FF").await, 400).await;
    assert_eq!(body["type"], "/problems/unreadable-request");
    // Nothing was started by any of them.
    assert_eq!(app.status().await["recent_jobs"], json!([]));
}

#[tokio::test]
async fn with_tokens_every_route_but_healthz_needs_one() {
    let http = HttpConfig {
        api_tokens: vec!["other-token-0123456789".to_string(), TOKEN.to_string()].into(),
        ..HttpConfig::default()
    };
    let app = spawn_app_with(AppOptions { http, ..AppOptions::default() }).await;

    for path in ["/status", "/docs", "/openapi.json", "/jobs/x", "/nowhere"] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="duckhaul""#, "{path}");
        let body = problem(response, 401).await;
        assert_eq!(body["type"], "/problems/unauthorized", "{path}");
    }
    let wrong = app.client.get(app.url("/status")).bearer_auth("test-token-0123456789abcdeX").send().await.unwrap();
    assert_eq!(problem(wrong, 401).await["detail"], "the bearer token is not valid");
    let basic =
        app.client.get(app.url("/status")).header("authorization", format!("Basic {TOKEN}")).send().await.unwrap();
    problem(basic, 401).await;
    let unauthorized_ingest = app.post("/ingest?wait=true", &users(10, 1)).await;
    problem(unauthorized_ingest, 401).await;

    assert_eq!(app.get("/healthz").await.status(), 200);
    let ok = app.client.get(app.url("/status")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["recent_jobs"], json!([]), "the refused ingest started nothing");
    let job =
        app.client.post(app.url("/ingest?wait=true")).bearer_auth(TOKEN).json(&users(10, 1)).send().await.unwrap();
    assert_eq!(job.status(), 200);
    assert_eq!(job.json::<Value>().await.unwrap()["rows"], 10);
}

#[tokio::test]
async fn past_the_job_cap_starting_a_job_is_429_with_retry_after() {
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions { latency_ms: 100, ..FakeApiOptions::default() },
        http: HttpConfig { max_running_jobs: 1, ..HttpConfig::default() },
        ..AppOptions::default()
    })
    .await;
    let slow = json!({"resource": "users", "quantity": 5000, "page_size": 50, "concurrency": 1, "seed": 1});
    let first = app.post("/ingest", &slow).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();

    let refused = app.post("/ingest", &users(10, 2)).await;
    assert_eq!(refused.headers()["retry-after"], "10");
    let body = problem(refused, 429).await;
    assert_eq!(body["type"], "/problems/too-many-jobs");
    // A wait=true start is refused at once too, not held.
    problem(app.post("/ingest?wait=true", &users(10, 2)).await, 429).await;

    let cancelled: Value =
        app.post(&format!("/jobs/{}/cancel", first["id"].as_str().unwrap()), &json!({})).await.json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled");
    // Resuming is starting a job too; after the cancel there is room again.
    let resumed = app.post(&format!("/jobs/{}/resume", first["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(resumed.status(), 202);
    problem(app.post("/ingest", &users(10, 3)).await, 429).await;
}

#[tokio::test]
async fn a_wait_longer_than_the_cap_answers_202_with_the_running_job() {
    let app = spawn_app_with(AppOptions {
        faults: FakeApiOptions { latency_ms: 200, ..FakeApiOptions::default() },
        http: HttpConfig { max_wait: Duration::from_secs(1), ..HttpConfig::default() },
        ..AppOptions::default()
    })
    .await;
    // 100 pages one at a time, each 200 ms upstream: far longer than the 1 s cap.
    let slow = json!({"resource": "users", "quantity": 5000, "page_size": 50, "concurrency": 1, "seed": 1});
    let response = app.post("/ingest?wait=true", &slow).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: Value = response.json().await.unwrap();
    assert!(["queued", "running"].contains(&job["state"].as_str().unwrap()), "{job}");
    assert_eq!(location, format!("/jobs/{}", job["id"].as_str().unwrap()));
    let cancelled: Value = app.post(&format!("{location}/cancel"), &json!({})).await.json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled");
}
