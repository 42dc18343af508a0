//! `GET /sources`: the built-in `faker`, then every file of `DUCKHAUL_SOURCES_DIR`, as loaded at
//! start. (That no secret reaches the listing is tested in tests/process.rs, which can give the
//! process its own environment.)

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, spawn_app_with};

const SHOP: &str = r#"
base_url = "https://api.example.com/v2/"
rate_limit_per_minute = 60
concurrency = 4
headers = { "User-Agent" = "duckhaul" }

[resources.orders]
path = "/orders"
params = { status = "all", archived = false }
records = "/data"
table = "shop_orders"

[resources.orders.pagination]
kind = "page"
page_param = "page"
size_param = "per_page"
page_size = 100
total = "header:X-Total-Count"

[resources.orders.columns]
created_at = "TIMESTAMPTZ"
customer = "STRUCT(name VARCHAR, email VARCHAR)"

[resources.refunds]
path = "/refunds"
records = ""
"#;

const FEED: &str = r#"
base_url = "http://127.0.0.1:9/feed"

[resources.events]
path = "/events"
records = "/items"
pagination = { kind = "cursor", cursor = "/meta/next", cursor_param = "after" }
"#;

/// A folder in a temp dir holding `files`; the dir must outlive the app.
fn sources_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources");
    std::fs::create_dir(&sources).unwrap();
    for (name, text) in files {
        std::fs::write(sources.join(name), text).unwrap();
    }
    (dir, sources)
}

async fn sources(app: &TestApp) -> Vec<Value> {
    let response = app.get("/sources").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn sources_lists_faker_then_each_file_with_its_resources() {
    let (_dir, dir) = sources_dir(&[("shop.toml", SHOP), ("feed.toml", FEED)]);
    let app = spawn_app_with(AppOptions { sources_dir: Some(dir), ..AppOptions::default() }).await;
    let listed = sources(&app).await;
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["faker", "feed", "shop"]);

    let faker = &listed[0];
    assert_eq!((&faker["builtin"], &faker["base_url"]), (&json!(true), &json!(app.upstream_url)));
    let users = faker["resources"].as_array().unwrap().iter().find(|r| r["name"] == "users").unwrap();
    assert_eq!(users["path"], "/users");
    assert_eq!(users["records"], "/data");
    assert_eq!(
        users["pagination"],
        json!({"kind": "page", "page_param": "_seed", "size_param": "_quantity", "page_size": 1000, "first_page": 1})
    );
    assert_eq!(users["columns"][0], json!({"name": "id", "type": "BIGINT"}));
    assert_eq!(users["schema"], Value::Null);
    assert!(faker["resources"].as_array().unwrap().iter().all(|r| r["name"] != "custom"), "{faker}");

    assert_eq!(
        listed[2],
        json!({
            "name": "shop", "builtin": false, "base_url": "https://api.example.com/v2", "rate_limit_per_minute": 60,
            "concurrency": 4, "headers": ["User-Agent"],
            "resources": [
                {"name": "orders", "table": "shop_orders", "path": "/orders",
                 "params": {"archived": "false", "status": "all"}, "records": "/data",
                 "pagination": {"kind": "page", "page_param": "page", "size_param": "per_page", "page_size": 100,
                    "first_page": 1, "total": "header:X-Total-Count"},
                 "columns": [{"name": "created_at", "type": "TIMESTAMPTZ"},
                    {"name": "customer", "type": "STRUCT(name VARCHAR, email VARCHAR)"}],
                 "schema": null, "contract": "evolve", "schema_history": []},
                {"name": "refunds", "table": "refunds", "path": "/refunds", "params": {}, "records": "",
                 "pagination": {"kind": "none"}, "columns": [], "schema": null, "contract": "evolve",
                 "schema_history": []},
            ]
        })
    );
    assert_eq!(listed[1]["rate_limit_per_minute"], 30);
    assert_eq!(listed[1]["concurrency"], Value::Null);
    assert_eq!(
        listed[1]["resources"][0]["pagination"],
        json!({"kind": "cursor", "cursor": "/meta/next", "cursor_param": "after"})
    );
}

#[tokio::test]
async fn a_table_created_by_a_source_ingest_shows_its_recorded_schema() {
    let (_dir, dir) = sources_dir(&[("shop.toml", SHOP)]);
    let app = spawn_app_with(AppOptions { sources_dir: Some(dir), ..AppOptions::default() }).await;
    // What a source ingest records when it creates the table.
    app.store()
        .record(|conn| {
            conn.execute_batch(
                "INSERT INTO duckhaul_source_tables (name, source, resource, columns, created_at)
                 VALUES ('shop_orders', 'shop', 'orders', '[[\"id\",\"BIGINT\"],[\"created_at\",\"TIMESTAMPTZ\"]]', now());
                 INSERT INTO duckhaul_schema_changes VALUES
                    ('shop_orders', 'j1', 3, 'total', 'widened', 'BIGINT', 'DOUBLE', '2026-12-01 10:00:00+00'),
                    ('shop_orders', 'j2', 0, 'customer.vip', 'added', NULL, 'BOOLEAN', '2026-12-02 10:00:00+00');",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let listed = sources(&app).await;
    let shop = listed.iter().find(|s| s["name"] == "shop").unwrap();
    assert_eq!(
        shop["resources"][0]["schema"],
        json!([{"name": "id", "type": "BIGINT"}, {"name": "created_at", "type": "TIMESTAMPTZ"}])
    );
    // And how its API changed it, oldest first.
    assert_eq!(
        shop["resources"][0]["schema_history"],
        json!([
            {"job_id": "j1", "page": 3, "column": "total", "change": "widened", "from": "BIGINT", "to": "DOUBLE",
             "changed_at": "2026-12-01T10:00:00Z"},
            {"job_id": "j2", "page": 0, "column": "customer.vip", "change": "added", "to": "BOOLEAN",
             "changed_at": "2026-12-02T10:00:00Z"},
        ])
    );
    assert_eq!(shop["resources"][1]["schema"], Value::Null);
}

#[tokio::test]
async fn sources_needs_a_token_like_every_other_route() {
    let token = "sources-token-0123456789";
    let http = duckhaul::config::HttpConfig {
        api_tokens: vec![token.to_string()].into(),
        ..duckhaul::config::HttpConfig::default()
    };
    let app = spawn_app_with(AppOptions { http, ..AppOptions::default() }).await;
    assert_eq!(app.get("/sources").await.status(), 401);
    let authorised = app.client.get(app.url("/sources")).bearer_auth(token).send().await.unwrap();
    assert_eq!(authorised.status(), 200);
    let listed: Vec<Value> = authorised.json().await.unwrap();
    assert_eq!(listed.len(), 1, "without a sources folder only faker: {listed:?}");
}
