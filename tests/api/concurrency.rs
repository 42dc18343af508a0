//! Ingests and exports at the same time: every export is an exact snapshot, and incremental
//! exports never skip or repeat a row.

use serde_json::{Value, json};

use crate::helpers::{TestApp, read_parquet, spawn_app};

fn parquet_objects(job: &Value) -> Vec<(String, String, i64)> {
    job["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["table"].as_str().unwrap().to_string(),
                o["uri"].as_str().unwrap().to_string(),
                o["rows"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn manifest_rows(job: &Value, table: &str) -> i64 {
    let o = job["objects"].as_array().unwrap().iter().find(|o| o["table"] == table).unwrap();
    let manifest: Value = serde_json::from_slice(&std::fs::read(o["manifest_uri"].as_str().unwrap()).unwrap()).unwrap();
    manifest["rows"].as_i64().unwrap()
}

#[tokio::test]
async fn four_ingests_and_two_exports_at_once_stay_exact() {
    let app = spawn_app().await;
    // Something to export from the start.
    app.ingest(json!({"resource": "users", "quantity": 1000, "seed": 1})).await;
    app.ingest(json!({"resource": "books", "quantity": 1000, "seed": 1})).await;

    let ingest = |body: Value| {
        let app: &TestApp = &app;
        async move { app.ingest(body).await }
    };
    let export = |body: Value| {
        let app: &TestApp = &app;
        async move { app.export(body).await }
    };
    let (a, b, c, d, e1, e2) = tokio::join!(
        ingest(json!({"resource": "users", "quantity": 8000, "page_size": 500, "seed": 10, "concurrency": 2})),
        ingest(json!({"resource": "users", "quantity": 6000, "page_size": 250, "seed": 20, "concurrency": 2})),
        ingest(json!({"resource": "books", "quantity": 5000, "page_size": 500, "seed": 30})),
        ingest(json!({"resource": "places", "quantity": 7000, "seed": 40})),
        export(json!({"tables": ["users", "books"]})),
        export(json!({"tables": ["users", "books"]})),
    );
    for job in [&a, &b, &c, &d, &e1, &e2] {
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    assert_eq!(app.count("users").await, 15000);
    assert_eq!(app.count("books").await, 6000);
    assert_eq!(app.count("places").await, 7000);

    for export in [&e1, &e2] {
        for (table, uri, rows) in parquet_objects(export) {
            let (in_file, _) = read_parquet(&uri);
            assert_eq!(in_file, rows, "{table}: the job's row count is the file's");
            assert_eq!(manifest_rows(export, &table), rows, "{table}: the manifest's row count is the file's");
            // The snapshot is a whole number of committed pages of this table, as of one moment.
            assert!(rows >= 1000, "{table}: {rows}");
        }
    }
}

#[tokio::test]
async fn incremental_exports_never_skip_or_repeat_a_row() {
    let app = spawn_app().await;
    let mut exported = Vec::new();
    for round in 0..4i64 {
        // An ingest and an incremental export run at once, then a final export catches up.
        let body = json!({"resource": "users", "quantity": 3000 + round * 500, "page_size": 250, "seed": 1 + round * 1000, "concurrency": 2});
        let (ingested, export) = tokio::join!(app.ingest(body), async {
            tokio::time::sleep(std::time::Duration::from_millis(20 * round as u64)).await;
            let response = app.post("/export?wait=true", &json!({"tables": ["users"], "mode": "incremental"})).await;
            response.json::<Value>().await.unwrap()
        });
        assert_eq!(ingested["state"], "succeeded", "{ingested}");
        // The first round may find no table yet; that export is then rejected, not wrong.
        if export["state"] == "succeeded" {
            exported.extend(parquet_objects(&export));
        }
        let after = app.export(json!({"tables": ["users"], "mode": "incremental"})).await;
        exported.extend(parquet_objects(&after));
    }
    let total: i64 = app.count("users").await;
    assert_eq!(total, 3000 + 3500 + 4000 + 4500);

    // Every row of the table is in exactly one incremental export.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let files: Vec<String> = exported.iter().map(|(_, uri, _)| format!("'{uri}'")).collect();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            &format!("SELECT count(*), count(DISTINCT (_job_id, _page, id)) FROM read_parquet([{}])", files.join(", ")),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(rows, total, "no row skipped");
    assert_eq!(distinct, total, "no row repeated");
}
