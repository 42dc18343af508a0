//! BigQuery-ready Parquet: every resource (and a custom table with every storage type) is
//! exported, read back with pyarrow, and checked against what `duckhaul bigquery-schema`
//! prints, nested fields included; and against BigQuery's Parquet expectations: 3-level LISTs
//! named `list`/`element`, UTC microsecond timestamps, DATE, zstd, one row group for a
//! small file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::cli::{self, repo_root};

const RESOURCES: [&str; 10] =
    ["addresses", "books", "companies", "credit_cards", "images", "persons", "places", "products", "texts", "users"];

fn python() -> String {
    std::env::var("DUCKHAUL_TEST_PYTHON")
        .expect("DUCKHAUL_TEST_PYTHON is not set: run the tests through scripts/test, which installs pyarrow in a venv")
}

/// What pyarrow reads from each file (see parquet_schema.py).
fn read_with_pyarrow(files: &[PathBuf]) -> BTreeMap<String, Value> {
    let output =
        Command::new(python()).arg(repo_root().join("tests/deploy/parquet_schema.py")).args(files).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn bigquery_schema(database: &Path, table: &str) -> Value {
    let output = cli::duckhaul().args(["bigquery-schema", table, "--database"]).arg(database).output().unwrap();
    assert!(output.status.success(), "bigquery-schema {table}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The schema without descriptions, which Parquet does not carry.
fn shape(fields: &Value) -> Value {
    Value::Array(
        fields
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let mut f = f.as_object().unwrap().clone();
                f.remove("description");
                if let Some(nested) = f.get("fields").cloned() {
                    f.insert("fields".into(), shape(&nested));
                }
                Value::Object(f)
            })
            .collect(),
    )
}

fn export(dir: &Path, args: &[&str]) -> PathBuf {
    let output = cli::duckhaul()
        .env("DUCKHAUL_UPSTREAM_URL", "builtin")
        .env("DUCKHAUL_DATABASE", dir.join("duckhaul.duckdb"))
        .env("DUCKHAUL_DESTINATION", dir.join("exports"))
        .args(["run", "--quantity", "60", "--page-size", "30", "--seed", "9", "--export"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let jobs: Vec<Value> =
        serde_json::Deserializer::from_slice(&output.stdout).into_iter().map(Result::unwrap).collect();
    let uri = jobs[1]["objects"][0]["uri"].as_str().unwrap();
    PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri))
}

#[test]
fn every_export_matches_its_bigquery_schema_and_bigquerys_parquet_expectations() {
    let (_tmp, dir) = cli::temp_dir();
    let mut files = BTreeMap::new();
    for resource in RESOURCES {
        files.insert(resource.to_string(), export(&dir, &["--resource", resource]));
    }
    let custom = [
        "--resource",
        "custom",
        "--table",
        "contacts",
        "--field",
        "name=name",
        "--field",
        "born=date",
        "--field",
        "seen=dateTime",
        "--field",
        "score=number",
        "--field",
        "active=boolean",
        "--field",
        "lat=latitude",
    ];
    files.insert("contacts".into(), export(&dir, &custom));

    let paths: Vec<PathBuf> = files.values().cloned().collect();
    let read = read_with_pyarrow(&paths);
    let database = dir.join("duckhaul.duckdb");
    for (table, file) in &files {
        let parquet = &read[file.to_str().unwrap()];
        let schema = bigquery_schema(&database, table);
        assert_eq!(shape(&schema), parquet["fields"], "{table}: bigquery-schema differs from the Parquet file");
        assert_eq!(parquet["rows"], 60, "{table}");
        assert_eq!(parquet["row_groups"], 1, "{table}: a small file is one row group");
        assert_eq!(parquet["compressions"], serde_json::json!(["ZSTD"]), "{table}");
        // 3-level lists: `column.list.element[.member]`.
        for path in parquet["list_paths"].as_array().unwrap() {
            let path = path.as_str().unwrap();
            let after = path.split(".list.").nth(1).unwrap_or("");
            assert!(after == "element" || after.starts_with("element."), "{table}: {path} is not a 3-level list");
        }
        // A built-in resource's schema is the same from the catalogue, without a database.
        if RESOURCES.contains(&table.as_str()) {
            assert_eq!(
                bigquery_schema(&dir.join("no-such.duckdb"), table),
                schema,
                "{table}: catalogue and database disagree"
            );
        }
    }

    // Spot checks of the mapping itself.
    let companies = bigquery_schema(&database, "companies");
    let addresses = companies.as_array().unwrap().iter().find(|f| f["name"] == "addresses").unwrap();
    assert_eq!((addresses["type"].as_str(), addresses["mode"].as_str()), (Some("RECORD"), Some("REPEATED")));
    assert!(!read[files["companies"].to_str().unwrap()]["list_paths"].as_array().unwrap().is_empty());
    let contacts = bigquery_schema(&database, "contacts");
    let ty = |name: &str| contacts.as_array().unwrap().iter().find(|f| f["name"] == name).unwrap()["type"].clone();
    assert_eq!(ty("born"), "DATE");
    assert_eq!(ty("seen"), "TIMESTAMP", "a dateTime field is exported as a UTC instant");
    assert_eq!(ty("_ingested_at"), "TIMESTAMP");
    assert_eq!(ty("score"), "INTEGER");
    assert_eq!(ty("active"), "BOOLEAN");
    assert_eq!(ty("lat"), "FLOAT");
    assert!(contacts.as_array().unwrap().iter().all(|f| f["mode"] == "NULLABLE"));

    // A custom table needs the database; a name that is nowhere is an error that says so.
    let output =
        cli::duckhaul().args(["bigquery-schema", "nothing_here", "--database"]).arg(&database).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no table or view named nothing_here"));
}

#[test]
fn a_large_export_has_row_groups_of_at_least_16_mib() {
    let (_tmp, dir) = cli::temp_dir();
    let output = cli::duckhaul()
        .env("DUCKHAUL_UPSTREAM_URL", "builtin")
        .env("DUCKHAUL_DATABASE", dir.join("duckhaul.duckdb"))
        .env("DUCKHAUL_DESTINATION", dir.join("exports"))
        .args(["run", "--quantity", "600000", "--seed", "2", "--export"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let jobs: Vec<Value> =
        serde_json::Deserializer::from_slice(&output.stdout).into_iter().map(Result::unwrap).collect();
    let uri = jobs[1]["objects"][0]["uri"].as_str().unwrap();
    let file = PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri));
    let read = read_with_pyarrow(std::slice::from_ref(&file));
    let groups: Vec<u64> = read[file.to_str().unwrap()]["row_group_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    // BigQuery's guidance: 16 MiB and more. Only the writer threads' last groups may be smaller.
    let small = groups.iter().filter(|b| **b < 16 << 20).count();
    assert!(small <= 2, "row groups of {groups:?} bytes");
    assert!(groups.iter().any(|b| *b >= 16 << 20), "row groups of {groups:?} bytes");
}
