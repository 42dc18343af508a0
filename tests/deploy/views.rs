//! SQL views from DUCKHAUL_VIEWS_DIR: created at start (or once the tables they read exist),
//! listed in /status, exported like tables, dropped when their file goes; bad files stop the
//! start with the file's name.

use std::path::Path;

use serde_json::{Value, json};

use crate::cli::{self, Service};

fn write(dir: &Path, name: &str, sql: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), sql).unwrap();
}

fn tables(service: &Service) -> Vec<(String, String, i64)> {
    let status = service.get("/status");
    status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["resource"].as_str().unwrap().to_string(),
                t["rows"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn parquet_query(file: &str, sql: &str) -> i64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = sql.replace("FILE", &format!("read_parquet('{file}')"));
    conn.query_row(&sql, [], |r| r.get(0)).unwrap()
}

fn object_of<'a>(job: &'a Value, table: &str) -> &'a Value {
    job["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {job}"))
}

fn local_path(uri: &Value) -> String {
    let uri = uri.as_str().unwrap();
    uri.strip_prefix("file://").unwrap_or(uri).to_string()
}

#[test]
fn views_are_created_listed_and_exported_like_tables() {
    let (_tmp, dir) = cli::temp_dir();
    let views = dir.join("views");
    write(
        &views,
        "user_domains.sql",
        "-- users per e-mail domain\nCREATE VIEW user_domains AS\nSELECT split_part(email, '@', 2) AS domain, count(*) AS users\nFROM users GROUP BY ALL;\n",
    );
    write(&views, "early_users.sql", "CREATE VIEW early_users AS SELECT * FROM users WHERE _page < 2");
    // Reads another view, and sorts before it: created in a second pass.
    write(
        &views,
        "domain_count.sql",
        "create or replace view domain_count as select count(*) as domains from user_domains;",
    );
    write(&views, "notes.txt", "not SQL: ignored");
    // An ENUM, which DuckDB writes to Parquet with a dictionary whatever it is told.
    write(
        &views,
        "user_parity.sql",
        "CREATE VIEW user_parity AS SELECT id, (CASE WHEN id % 2 = 0 THEN 'even' ELSE 'odd' END)::ENUM('even', 'odd') AS parity FROM users",
    );
    let env = [("DUCKHAUL_VIEWS_DIR", views.as_os_str())];

    let service = Service::start(&dir, &env);
    // No users table yet: the views wait for it.
    assert_eq!(tables(&service), []);
    let ingest = service.post("/ingest?wait=true", json!({"resource": "users", "quantity": 3000, "seed": 3}));
    assert_eq!(ingest["state"], "succeeded");
    let listed = tables(&service);
    let names: Vec<(&str, &str)> = listed.iter().map(|(n, r, _)| (n.as_str(), r.as_str())).collect();
    assert_eq!(
        names,
        [
            ("domain_count", "view"),
            ("early_users", "view"),
            ("user_domains", "view"),
            ("user_parity", "view"),
            ("users", "users")
        ]
    );
    let rows = |name: &str| listed.iter().find(|(n, _, _)| n == name).unwrap().2;
    assert_eq!(rows("early_users"), 2000);
    assert_eq!(rows("domain_count"), 1);
    assert!(rows("user_domains") > 1);

    // A view's name is taken: a custom ingest cannot write a table there.
    let clash = reqwest::blocking::Client::new()
        .post(format!("{}/ingest", service.base))
        .json(&json!({"resource": "custom", "quantity": 1, "table": "user_domains", "fields": {"n": "name"}}))
        .send()
        .unwrap();
    assert_eq!(clash.status(), 409);
    assert_eq!(clash.headers()["content-type"], "application/problem+json");
    let problem: Value = clash.json().unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("user_domains is a SQL view"), "{problem}");

    let export = service.post("/export?wait=true", json!({"tables": ["user_domains", "early_users", "user_parity"]}));
    assert_eq!(export["state"], "succeeded", "{export}");
    let domains = local_path(&object_of(&export, "user_domains")["uri"]);
    assert_eq!(parquet_query(&domains, "SELECT sum(users)::BIGINT FROM FILE"), 3000);
    assert_eq!(parquet_query(&domains, "SELECT count(*) FROM FILE"), rows("user_domains"));
    assert_eq!(object_of(&export, "user_domains")["rows"], rows("user_domains"));
    let early = local_path(&object_of(&export, "early_users")["uri"]);
    assert_eq!(parquet_query(&early, "SELECT count(*) FROM FILE"), 2000);
    assert_eq!(parquet_query(&early, "SELECT max(_page) FROM FILE"), 1);
    let parity = local_path(&object_of(&export, "user_parity")["uri"]);
    assert_eq!(parquet_query(&parity, "SELECT count(*) FILTER (parity = 'even') FROM FILE"), 1500);

    // Exporting everything incrementally: early_users has _commit, so nothing new to send;
    // the other views have no commit range and go whole; users was never exported.
    let all = service.post("/export?wait=true", json!({"mode": "incremental"}));
    assert_eq!(all["state"], "succeeded", "{all}");
    let mut exported: Vec<&str> =
        all["objects"].as_array().unwrap().iter().map(|o| o["table"].as_str().unwrap()).collect();
    exported.sort();
    assert_eq!(exported, ["domain_count", "user_domains", "user_parity", "users"]);
    assert_eq!(object_of(&all, "users")["rows"], 3000);
    service.stop();

    // The view's BigQuery schema comes from DuckDB's types.
    let output = cli::duckhaul()
        .args(["bigquery-schema", "user_domains", "--database"])
        .arg(dir.join("duckhaul.duckdb"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let schema: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        schema,
        json!([
            {"name": "domain", "type": "STRING", "mode": "NULLABLE"},
            {"name": "users", "type": "INTEGER", "mode": "NULLABLE"},
        ])
    );

    // A view whose file is gone is dropped at the next start; an edited one is replaced.
    std::fs::remove_file(views.join("early_users.sql")).unwrap();
    write(
        &views,
        "domain_count.sql",
        "CREATE VIEW domain_count AS SELECT count(*) + 1000 AS domains FROM user_domains",
    );
    let service = Service::start(&dir, &env);
    let names: Vec<String> = tables(&service).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["domain_count", "user_domains", "user_parity", "users"]);
    let export = service.post("/export?wait=true", json!({"tables": ["domain_count"]}));
    let count = local_path(&object_of(&export, "domain_count")["uri"]);
    assert_eq!(parquet_query(&count, "SELECT domains FROM FILE"), 1000 + rows("user_domains"));
    service.stop();
}

#[test]
fn a_bad_view_file_stops_the_start_and_names_the_file() {
    let cases = [
        ("Users.sql", "CREATE VIEW Users AS SELECT 1", "not a valid view name"),
        ("users.sql", "CREATE VIEW users AS SELECT 1", "the table of the users resource"),
        ("two.sql", "CREATE VIEW two AS SELECT 1; DROP TABLE duckhaul_jobs;", "holds 2 statements"),
        ("wrong.sql", "CREATE VIEW other AS SELECT 1", "name the file other.sql"),
        ("broken.sql", "CREATE VIEW broken AS SELECT no_such_column FROM duckhaul_jobs", "DuckDB refused it"),
        ("drop.sql", "DROP TABLE duckhaul_jobs", "must be CREATE VIEW"),
    ];
    for (file, sql, why) in cases {
        let (_tmp, dir) = cli::temp_dir();
        let views = dir.join("views");
        write(&views, file, sql);
        let output = cli::output_within_2_minutes(
            cli::duckhaul()
                .env("DUCKHAUL_UPSTREAM_URL", "builtin")
                .env("DUCKHAUL_DATABASE", dir.join("duckhaul.duckdb"))
                .env("DUCKHAUL_DESTINATION", dir.join("exports"))
                .env("DUCKHAUL_VIEWS_DIR", &views)
                .args(["serve", "--host", "127.0.0.1", "--port", &cli::free_port().to_string()]),
        );
        assert!(!output.status.success(), "{file} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(file) && stderr.contains(why), "{file}: {stderr}");
    }
    let output = cli::duckhaul().env("DUCKHAUL_VIEWS_DIR", "/no/such/folder").args(["run"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DUCKHAUL_VIEWS_DIR /no/such/folder is not a folder"));
}
