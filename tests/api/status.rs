use serde_json::json;

use crate::helpers::{spawn_app, users};

#[tokio::test]
async fn status_lists_tables_jobs_and_exports() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");

    app.ingest(users(1200, 1)).await;
    app.ingest(json!({"resource": "books", "quantity": 30, "seed": 2})).await;
    let export = app.export(json!({"tables": ["users"]})).await;

    let status = app.status().await;
    assert_eq!(status["upstream_url"], app.upstream_url.as_str());
    assert_eq!(
        status["tables"],
        json!([{"name": "books", "resource": "books", "rows": 30}, {"name": "users", "resource": "users", "rows": 1200}])
    );
    let kinds: Vec<&str> =
        status["recent_jobs"].as_array().unwrap().iter().map(|j| j["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["export", "ingest", "ingest"]);
    assert_eq!(status["running_jobs"], json!([]));
    assert_eq!(status["last_exports"][0]["table"], "users");
    assert_eq!(status["last_exports"][0]["export_id"], export["id"]);
    assert_eq!(status["last_exports"][0]["rows"], 1200);
}

#[tokio::test]
async fn jobs_survive_a_restart() {
    let app = spawn_app().await;
    let job = app.ingest(users(2000, 9)).await;
    let id = job["id"].as_str().unwrap().to_string();
    let app = app.restart().await;

    let stored: serde_json::Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
    assert_eq!(stored["state"], "succeeded");
    assert_eq!(stored["rows"], 2000);
    assert_eq!(stored["pages_done"], 2);
    assert_eq!(stored["base_seed"], 9);
    assert_eq!(stored["request"], job["request"]);
    assert_eq!(app.count("users").await, 2000);
    // The commit sequence carries on after a restart.
    let next = app.ingest(users(1000, 10)).await;
    assert_eq!(next["state"], "succeeded", "{next}");
    let later = app
        .query(&format!(
            "SELECT (SELECT min(_commit) FROM users WHERE _job_id = '{}') > (SELECT max(_commit) FROM users WHERE _job_id = '{id}')",
            next["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(later[0][0], true);
}
