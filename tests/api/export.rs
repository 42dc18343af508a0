use serde_json::{Value, json};

use crate::gcs::FakeGcs;
use crate::helpers::{AppOptions, column_type, read_parquet, spawn_app, spawn_app_with, users};

fn object<'a>(job: &'a Value, table: &str) -> &'a Value {
    job["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["table"] == table)
        .unwrap_or_else(|| panic!("no object for {table}: {job}"))
}

#[tokio::test]
async fn a_snapshot_export_writes_parquet_and_a_manifest_to_a_local_folder() {
    let app = spawn_app().await;
    app.ingest(users(2500, 1)).await;
    let job = app.export(json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["kind"], "export");
    let id = job["id"].as_str().unwrap();
    let users = object(&job, "users");
    let uri = users["uri"].as_str().unwrap();
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let expected = app.exports_dir().canonicalize().unwrap().join(format!("users/dt={day}/{id}.parquet"));
    assert_eq!(uri, expected.display().to_string());
    assert_eq!(users["rows"], 2500);

    let bytes = std::fs::read(uri).unwrap();
    assert_eq!(users["bytes"], bytes.len());
    assert_eq!(users["crc32c"], crc32c::crc32c(&bytes));
    let (rows, columns) = read_parquet(uri);
    assert_eq!(rows, 2500);
    assert_eq!(column_type(&columns, "id"), "BIGINT");
    assert_eq!(column_type(&columns, "_ingested_at"), "TIMESTAMP WITH TIME ZONE");

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(users["manifest_uri"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(manifest["rows"], 2500);
    assert_eq!(manifest["table"], "users");
    assert_eq!(manifest["export_id"], id);
    assert_eq!(manifest["crc32c"], users["crc32c"]);
    assert_eq!(manifest["bytes"], users["bytes"]);
    assert_eq!(manifest["object"], uri);
    assert_eq!(manifest["schema"][0], json!({"name": "id", "type": "BIGINT"}));
    // Nothing is left in staging.
    let staging = duckhaul::app::staging_dir(&app.config.database);
    assert_eq!(std::fs::read_dir(staging).map(|d| d.count()).unwrap_or(0), 0);
}

#[tokio::test]
async fn nested_columns_stay_structs_and_lists_in_parquet() {
    let app = spawn_app().await;
    for resource in ["persons", "products", "companies"] {
        app.ingest(json!({"resource": resource, "quantity": 300, "seed": 4})).await;
    }
    let job = app.export(json!({"tables": ["persons", "products", "companies"]})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (rows, cols) = read_parquet(object(&job, "persons")["uri"].as_str().unwrap());
    assert_eq!(rows, 300);
    assert!(column_type(&cols, "address").starts_with("STRUCT(id BIGINT, street VARCHAR"), "{cols:?}");
    assert_eq!(column_type(&cols, "birthday"), "DATE");
    let (_, cols) = read_parquet(object(&job, "products")["uri"].as_str().unwrap());
    assert_eq!(column_type(&cols, "categories"), "BIGINT[]");
    assert_eq!(column_type(&cols, "tags"), "VARCHAR[]");
    assert!(column_type(&cols, "images").starts_with("STRUCT(title VARCHAR"), "{cols:?}");
    assert!(column_type(&cols, "images").ends_with("[]"));
    let (_, cols) = read_parquet(object(&job, "companies")["uri"].as_str().unwrap());
    assert!(column_type(&cols, "addresses").ends_with("longitude DOUBLE)[]"), "{cols:?}");
    assert!(column_type(&cols, "contact").contains("address STRUCT("), "{cols:?}");
}

#[tokio::test]
async fn an_incremental_export_takes_only_rows_since_the_last_export() {
    let app = spawn_app().await;
    let first = app.ingest(users(1500, 1)).await;
    let e1 = app.export(json!({"tables": ["users"], "mode": "incremental"})).await;
    assert_eq!(object(&e1, "users")["rows"], 1500);

    let second = app.ingest(users(700, 100)).await;
    let e2 = app.export(json!({"tables": ["users"], "mode": "incremental"})).await;
    let o2 = object(&e2, "users");
    assert_eq!(o2["rows"], 700);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let jobs: Vec<String> = conn
        .prepare(&format!("SELECT DISTINCT _job_id FROM read_parquet('{}')", o2["uri"].as_str().unwrap()))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(jobs, vec![second["id"].as_str().unwrap().to_string()]);
    assert_ne!(first["id"], second["id"]);

    // Nothing new: the job succeeds and writes nothing.
    let e3 = app.export(json!({"tables": ["users"], "mode": "incremental"})).await;
    assert_eq!(e3["state"], "succeeded");
    assert_eq!(e3["objects"], json!([]));
    // A snapshot still takes everything.
    let e4 = app.export(json!({"tables": ["users"]})).await;
    assert_eq!(object(&e4, "users")["rows"], 2200);
}

#[tokio::test]
async fn an_export_to_gcs_uploads_the_object_and_its_manifest() {
    let gcs = FakeGcs::start().await;
    gcs.create_bucket("snap").await;
    let app = spawn_app_with(AppOptions {
        destination: Some("gs://snap/warehouse".into()),
        gcs_endpoint: Some(gcs.endpoint()),
        ..AppOptions::default()
    })
    .await;
    app.ingest(users(3000, 11)).await;
    app.ingest(json!({"resource": "companies", "quantity": 200, "seed": 3})).await;
    let job = app.export(json!({})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let id = job["id"].as_str().unwrap();
    let day = chrono::Utc::now().format("%Y-%m-%d");

    for (table, rows) in [("users", 3000), ("companies", 200)] {
        let o = object(&job, table);
        let name = format!("warehouse/{table}/dt={day}/{id}.parquet");
        assert_eq!(o["uri"], format!("gs://snap/{name}"));
        let data = gcs.object("snap", &name).await.expect("the object exists");
        assert_eq!(o["bytes"], data.len());
        assert_eq!(o["crc32c"], crc32c::crc32c(&data));
        let local = app.dir.path().join(format!("{table}.parquet"));
        std::fs::write(&local, &data).unwrap();
        let (count, _) = read_parquet(local.to_str().unwrap());
        assert_eq!(count, rows);
        assert_eq!(app.count(table).await, rows);

        let manifest_name = format!("warehouse/{table}/dt={day}/{id}.manifest.json");
        assert_eq!(o["manifest_uri"], format!("gs://snap/{manifest_name}"));
        let manifest: Value = serde_json::from_slice(&gcs.object("snap", &manifest_name).await.unwrap()).unwrap();
        assert_eq!(manifest["rows"], rows);
        assert_eq!(manifest["crc32c"], crc32c::crc32c(&data));
    }
    let status = app.status().await;
    assert_eq!(status["destination"], "gs://snap/warehouse");
}

#[tokio::test]
async fn a_failed_export_is_recorded_keeps_the_rows_and_can_be_run_again() {
    let gcs = FakeGcs::start().await;
    // No bucket yet: the upload fails.
    let app = spawn_app_with(AppOptions {
        destination: Some("gs://later/x".into()),
        gcs_endpoint: Some(gcs.endpoint()),
        ..AppOptions::default()
    })
    .await;
    app.ingest(users(1000, 1)).await;
    let failed = app.export(json!({"mode": "incremental"})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(failed["error"].as_str().unwrap().starts_with("users: "), "{failed}");
    assert_eq!(failed["objects"], json!([]));
    assert_eq!(app.count("users").await, 1000);

    gcs.create_bucket("later").await;
    let job = app.export(json!({"mode": "incremental"})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    // The failed attempt did not move the watermark: all rows are exported.
    assert_eq!(object(&job, "users")["rows"], 1000);
    assert_eq!(gcs.list("later", "x/users/").await.len(), 2);
}

#[tokio::test]
async fn gcs_going_down_fails_the_export_cleanly_and_a_rerun_succeeds() {
    let mut gcs = FakeGcs::start().await;
    gcs.create_bucket("lake").await;
    let app = spawn_app_with(AppOptions {
        destination: Some("gs://lake/x".into()),
        gcs_endpoint: Some(gcs.endpoint()),
        gcs_retry: std::time::Duration::from_secs(3),
        ..AppOptions::default()
    })
    .await;
    app.ingest(users(2000, 1)).await;

    // The emulator dies: uploads are retried for the configured 3 s, then the export fails.
    gcs.kill();
    let failed = app.export(json!({"mode": "incremental"})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(failed["error"].as_str().unwrap().starts_with("users: "), "{failed}");
    assert_eq!(failed["objects"], json!([]));
    assert_eq!(app.count("users").await, 2000, "the table is untouched");
    let recorded = app.query("SELECT state, error IS NOT NULL FROM duckhaul_exports").await;
    assert_eq!(recorded, vec![vec![json!("failed"), json!(true)]]);

    // It comes back (empty, as a crashed in-memory emulator is): running the export again
    // writes every row, since the failed attempt did not move the watermark.
    gcs.restart().await;
    gcs.create_bucket("lake").await;
    assert_eq!(gcs.list("lake", "x/").await, Vec::<String>::new());
    let job = app.export(json!({"mode": "incremental"})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(object(&job, "users")["rows"], 2000);
    let names = gcs.list("lake", "x/users/").await;
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().all(|n| n.contains(job["id"].as_str().unwrap())),
        "only the successful export's objects: {names:?}"
    );
}
