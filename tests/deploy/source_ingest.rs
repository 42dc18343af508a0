//! `duckhaul run --source` through the real binary: json-server 0.17's orders (nested objects,
//! arrays, nulls, timestamps with offsets, dates) ingested by `page` and by `link_header` and
//! exported, every record and type checked in the Parquet against the fixture; and the bundled
//! fake's generic mode through every pagination and auth kind, every record once, with and
//! without a quantity, the secret in no output.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::cli::{duckhaul, repo_root, temp_dir};
use crate::files::parquet_files;
use crate::sources::{FakeApi, JsonServer};

/// `duckhaul run --source SOURCE --resource RESOURCE ARGS` on `dir`'s database and sources folder.
pub(crate) fn run(dir: &Path, source: &str, resource: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    duckhaul()
        .env("DUCKHAUL_DATABASE", dir.join("duckhaul.duckdb"))
        .env("DUCKHAUL_DESTINATION", dir.join("exports"))
        .env("DUCKHAUL_UPSTREAM_URL", "builtin")
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .args(["run", "--sources-dir"])
        .arg(dir.join("sources"))
        .args(["--source", source, "--resource", resource])
        .args(args)
        .output()
        .unwrap()
}

/// The JSON documents `duckhaul run` prints: the ingest job, then the export job.
pub(crate) fn printed_jobs(output: &Output) -> Vec<Value> {
    serde_json::Deserializer::from_slice(&output.stdout).into_iter::<Value>().map(Result::unwrap).collect()
}

pub(crate) fn text(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

pub(crate) fn write_source(dir: &Path, name: &str, body: &str) {
    std::fs::create_dir_all(dir.join("sources")).unwrap();
    std::fs::write(dir.join("sources").join(format!("{name}.toml")), body).unwrap();
}

/// Rows of `sql` (run in memory, or on `database` once no process holds it), as strings.
pub(crate) fn rows(database: Option<&Path>, sql: &str) -> Vec<Vec<String>> {
    let conn = match database {
        Some(db) => duckdb::Connection::open(db).unwrap(),
        None => duckdb::Connection::open_in_memory().unwrap(),
    };
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    let mut result = stmt.query([]).unwrap();
    while let Some(row) = result.next().unwrap() {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| match row.get::<_, duckdb::types::Value>(i).unwrap() {
                    duckdb::types::Value::Null => "NULL".to_string(),
                    duckdb::types::Value::Text(s) => s,
                    duckdb::types::Value::BigInt(v) => v.to_string(),
                    duckdb::types::Value::Int(v) => v.to_string(),
                    duckdb::types::Value::Double(v) => v.to_string(),
                    duckdb::types::Value::Boolean(v) => v.to_string(),
                    other => format!("{other:?}"),
                })
                .collect(),
        );
    }
    out
}

fn orders_fixture() -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/json-server/db.json")).unwrap();
    let db: Value = serde_json::from_str(&text).unwrap();
    db["orders"].as_array().unwrap().clone()
}

/// The one Parquet file exported for `table`.
fn exported(dir: &Path, table: &str) -> PathBuf {
    let files = parquet_files(&dir.join("exports").join(table));
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

/// Checks every order of the fixture against the exported file: ids, nested members, list
/// items, the instant of each timestamp, dates, nulls, doubles; and the file's column types.
fn assert_orders_exported(file: &Path) {
    let parquet = format!("read_parquet('{}')", file.display());
    let orders = orders_fixture();
    assert_eq!(orders.len(), 137);

    let types: Vec<(String, String)> = rows(None, &format!("DESCRIBE SELECT * FROM {parquet}"))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let type_of =
        |name: &str| types.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name}: {types:?}")).1.clone();
    assert_eq!(type_of("id"), "BIGINT");
    assert_eq!(
        type_of("customer"),
        "STRUCT(\"name\" VARCHAR, email VARCHAR, address STRUCT(city VARCHAR, zip VARCHAR))"
    );
    assert_eq!(type_of("items"), "STRUCT(sku VARCHAR, qty BIGINT, price DOUBLE)[]");
    assert_eq!(type_of("total"), "DOUBLE");
    assert_eq!(type_of("paid"), "BOOLEAN");
    assert_eq!(type_of("created_at"), "TIMESTAMP WITH TIME ZONE");
    assert_eq!(type_of("ship_date"), "DATE");
    // Only ever null: VARCHAR.
    assert_eq!(type_of("note"), "VARCHAR");
    assert_eq!(type_of("tags"), "VARCHAR[]");

    let stored = rows(
        None,
        &format!(
            "SELECT id, customer.name, customer.email, customer.address.city, customer.address.zip, total, paid,
                    epoch_ms(created_at), CAST(ship_date AS VARCHAR), note, array_to_string(tags, '|'), len(items)
             FROM {parquet} ORDER BY id"
        ),
    );
    assert_eq!(stored.len(), 137, "every order exactly once");
    let null = |v: &Value| v.as_str().map_or("NULL".to_string(), str::to_string);
    for (order, row) in orders.iter().zip(&stored) {
        let created = chrono::DateTime::parse_from_rfc3339(order["created_at"].as_str().unwrap()).unwrap();
        let tags: Vec<&str> = order["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        let expected = vec![
            order["id"].to_string(),
            null(&order["customer"]["name"]),
            null(&order["customer"]["email"]),
            null(&order["customer"]["address"]["city"]),
            null(&order["customer"]["address"]["zip"]),
            order["total"].as_f64().unwrap().to_string(),
            order["paid"].to_string(),
            // The offset is gone, the instant is kept.
            created.timestamp_millis().to_string(),
            null(&order["ship_date"]),
            null(&order["note"]),
            tags.join("|"),
            order["items"].as_array().unwrap().len().to_string(),
        ];
        assert_eq!(row, &expected, "order {}", order["id"]);
    }

    let items = rows(
        None,
        &format!(
            "SELECT id, items[k].sku, items[k].qty, items[k].price
             FROM (SELECT id, items, unnest(range(1, len(items) + 1)) AS k FROM {parquet}) ORDER BY id, k"
        ),
    );
    let expected: Vec<Vec<String>> = orders
        .iter()
        .flat_map(|o| {
            o["items"].as_array().unwrap().iter().map(move |i| {
                vec![
                    o["id"].to_string(),
                    i["sku"].as_str().unwrap().to_string(),
                    i["qty"].to_string(),
                    i["price"].as_f64().unwrap().to_string(),
                ]
            })
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(items, expected);
}

#[test]
fn json_server_orders_are_ingested_by_page_and_by_link_header_and_exported_exactly() {
    let (_tmp, dir) = temp_dir();
    let server = JsonServer::start(&dir);
    write_source(
        &dir,
        "shop",
        &format!(
            r#"
base_url = "{url}"
rate_limit_per_minute = 0

[resources.orders]
path = "/orders"
records = ""
pagination = {{ kind = "page", page_param = "_page", size_param = "_limit", page_size = 50, total = "header:X-Total-Count" }}

[resources.linked]
path = "/orders"
table = "orders_linked"
records = ""
params = {{ _page = 1, _limit = 40 }}
pagination = {{ kind = "link_header" }}

# No total: the pages are followed, one after another, until a short one.
[resources.numbered]
path = "/orders"
table = "orders_numbered"
records = ""
pagination = {{ kind = "page", page_param = "_page", size_param = "_limit", page_size = 50 }}
"#,
            url = server.url
        ),
    );

    let output = run(&dir, "shop", "orders", &["--export"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let jobs = printed_jobs(&output);
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0]["state"], "succeeded", "{}", jobs[0]);
    // 137 orders in pages of 50: the total from X-Total-Count plans 3 pages.
    assert_eq!((jobs[0]["rows"].as_i64(), jobs[0]["pages_total"].as_i64()), (Some(137), Some(3)), "{}", jobs[0]);
    assert_eq!(jobs[1]["state"], "succeeded", "{}", jobs[1]);
    assert_eq!(jobs[1]["objects"][0]["rows"], 137, "{}", jobs[1]);
    assert_orders_exported(&exported(&dir, "orders"));

    let output = run(&dir, "shop", "linked", &["--export"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let jobs = printed_jobs(&output);
    assert_eq!(jobs[0]["state"], "succeeded", "{}", jobs[0]);
    // Pages of 40 followed by their Link headers: 40, 40, 40, 17.
    assert_eq!((jobs[0]["rows"].as_i64(), jobs[0]["pages_done"].as_i64()), (Some(137), Some(4)), "{}", jobs[0]);
    assert_orders_exported(&exported(&dir, "orders_linked"));

    let output = run(&dir, "shop", "numbered", &["--export"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let jobs = printed_jobs(&output);
    assert_eq!(jobs[0]["state"], "succeeded", "{}", jobs[0]);
    assert_eq!((jobs[0]["rows"].as_i64(), jobs[0]["pages_done"].as_i64()), (Some(137), Some(3)), "{}", jobs[0]);
    assert_orders_exported(&exported(&dir, "orders_numbered"));

    // The same rows in both tables of the database.
    let db = dir.join("duckhaul.duckdb");
    let same = rows(
        Some(&db),
        "SELECT count(*) FROM (SELECT id, customer, items, total, paid, created_at, ship_date, note, tags FROM orders
                               EXCEPT SELECT id, customer, items, total, paid, created_at, ship_date, note, tags FROM orders_linked)",
    );
    assert_eq!(same, [["0"]]);
}

const SECRET: &str = "gen3ric-s3cret-7c1d";

/// A source file of the generic fake at `url` for each pagination kind, each with its own auth.
fn generic_sources(url: &str) -> Vec<(&'static str, String)> {
    let file = |body: &str| format!("base_url = \"{url}\"\nrate_limit_per_minute = 0\n{body}");
    vec![
        (
            "offsets",
            file(
                r#"[auth]
kind = "bearer"
token_env = "GEN_TOKEN"
[resources.users]
path = "/generic/offset/users"
params = { total = 1234 }
records = "/data"
pagination = { kind = "offset", offset_param = "offset", limit_param = "limit", page_size = 100, total = "/meta/total" }
"#,
            ),
        ),
        (
            "cursors",
            file(
                r#"[auth]
kind = "header"
header = "X-Api-Key"
token_env = "GEN_TOKEN"
[resources.users]
path = "/generic/cursor/users"
params = { total = 1234, limit = 100 }
records = "/data"
pagination = { kind = "cursor", cursor = "/next_cursor", cursor_param = "cursor" }
"#,
            ),
        ),
        (
            "links",
            file(
                r#"[auth]
kind = "query"
param = "api_key"
token_env = "GEN_TOKEN"
[resources.users]
path = "/generic/next/users"
params = { total = 1234, limit = 100 }
records = "/items"
pagination = { kind = "next_url", next_url = "/links/next" }
"#,
            ),
        ),
    ]
}

/// (rows, distinct `_index`, least, greatest) in users.
fn indices(db: &Path) -> Vec<String> {
    rows(Some(db), "SELECT count(*), count(DISTINCT _index), min(_index), max(_index) FROM users").remove(0)
}

/// The secret in no output, job record or database file.
fn assert_no_secret(dir: &Path, output: &Output, name: &str) {
    assert!(!text(output).contains(SECRET), "{name} printed the secret:\n{}", text(output));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "{name}: the secret is in {path:?}");
        }
    }
}

#[test]
fn every_pagination_and_auth_kind_ingests_every_generic_record_once() {
    let (_tmp, root) = temp_dir();
    let api = FakeApi::start(SECRET);
    let env = [("GEN_TOKEN", SECRET)];
    for (name, body) in generic_sources(&api.url) {
        let dir = root.join(name);
        write_source(&dir, name, &body);
        let output = run(&dir, name, "users", &[], &env);
        assert!(output.status.success(), "{name}: {}", text(&output));
        let job = &printed_jobs(&output)[0];
        assert_eq!(job["state"], "succeeded", "{name}: {job}");
        assert_eq!((job["rows"].as_i64(), job["pages_done"].as_i64()), (Some(1234), Some(13)), "{name}: {job}");
        assert_no_secret(&dir, &output, name);
        assert_eq!(indices(&dir.join("duckhaul.duckdb")), ["1234", "1234", "0", "1233"], "{name}");
    }
}

#[test]
fn a_quantity_caps_every_pagination_kind_at_the_first_records() {
    let (_tmp, root) = temp_dir();
    let api = FakeApi::start(SECRET);
    let env = [("GEN_TOKEN", SECRET)];
    // Within a page, and at a page's end (no request for the page after).
    for (quantity, pages) in [(250, 3), (200, 2)] {
        for (name, body) in generic_sources(&api.url) {
            let dir = root.join(format!("{name}-{quantity}"));
            write_source(&dir, name, &body);
            let output = run(&dir, name, "users", &["--quantity", &quantity.to_string()], &env);
            assert!(output.status.success(), "{name}: {}", text(&output));
            let job = &printed_jobs(&output)[0];
            assert_eq!(job["state"], "succeeded", "{name}: {job}");
            assert_eq!(
                (job["rows"].as_i64(), job["pages_done"].as_i64()),
                (Some(quantity), Some(pages)),
                "{name}: {job}"
            );
            assert_no_secret(&dir, &output, name);
            let expected = [quantity.to_string(), quantity.to_string(), "0".into(), (quantity - 1).to_string()];
            assert_eq!(indices(&dir.join("duckhaul.duckdb")), expected, "{name} {quantity}");
        }
    }
}

#[test]
fn a_refused_secret_fails_the_run_without_showing_it() {
    let (_tmp, root) = temp_dir();
    let api = FakeApi::start(SECRET);
    let wrong = "wr0ng-t0ken-41b2";
    for (name, body) in generic_sources(&api.url) {
        let dir = root.join(name);
        write_source(&dir, name, &body);
        let output = run(&dir, name, "users", &[], &[("GEN_TOKEN", wrong)]);
        assert!(!output.status.success(), "{name}: {}", text(&output));
        let all = text(&output);
        assert!(!all.contains(wrong), "{name} showed the token:\n{all}");
        let job = &printed_jobs(&output)[0];
        assert_eq!(job["state"], "failed", "{name}: {job}");
        let error = job["failed_pages"][0]["error"].as_str().unwrap();
        assert!(error.contains("401"), "{name}: {job}");
        // The fake echoes the credential it was given; the error keeps the echo, masked.
        assert!(error.contains("*** is not a valid key"), "{name}: {error}");
    }
}

#[test]
fn a_later_record_that_does_not_fit_costs_one_row_not_its_page() {
    let (_tmp, dir) = temp_dir();
    // The pages are typed from the first one: order 61 (page 2 of 50, its 11th record) has a
    // total that is no number.
    let mut orders = orders_fixture();
    orders[60]["total"] = Value::String("n/a".into());
    let server = JsonServer::start_with(&dir, &serde_json::json!({ "orders": orders }));
    write_source(
        &dir,
        "shop",
        &format!(
            r#"
base_url = "{url}"
rate_limit_per_minute = 0

[resources.orders]
path = "/orders"
records = ""
pagination = {{ kind = "page", page_param = "_page", size_param = "_limit", page_size = 50, total = "header:X-Total-Count" }}

[resources.linked]
path = "/orders"
table = "orders_linked"
records = ""
params = {{ _page = 1, _limit = 50 }}
pagination = {{ kind = "link_header" }}
"#,
            url = server.url
        ),
    );

    // Planned pages and followed ones alike: the record goes whole to the quarantine, its page's
    // 49 others load, and a followed walk goes on past it.
    let db = dir.join("duckhaul.duckdb");
    for (resource, table) in [("orders", "orders"), ("linked", "orders_linked")] {
        let output = run(&dir, "shop", resource, &[], &[]);
        assert!(output.status.success(), "{}", text(&output));
        let job = &printed_jobs(&output)[0];
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!((job["rows"].as_i64(), job["quarantined"].as_i64()), (Some(136), Some(1)), "{job}");
        assert_eq!(job["failed_pages"], serde_json::json!([]), "{job}");
        assert_eq!(
            rows(Some(&db), &format!("SELECT count(*), min(id), max(id) FROM {table} WHERE id BETWEEN 51 AND 100")),
            [["49", "51", "100"]]
        );
        let quarantined =
            rows(Some(&db), &format!("SELECT _page, record_index, field, reason, record FROM {table}__quarantine"));
        assert_eq!(quarantined[0][..4], ["1", "10", "/total", "expected a number, got the string \"n/a\""]);
        assert_eq!(serde_json::from_str::<Value>(&quarantined[0][4]).unwrap(), orders[60]);
    }
}

#[test]
fn the_tasks_of_a_split_run_share_planned_pages_and_leave_followed_ones_to_the_first() {
    let (_tmp, root) = temp_dir();
    let api = FakeApi::start(SECRET);
    let sources = generic_sources(&api.url);
    // (source, rows and pages of task 0, of task 1): 13 planned pages split p % 2; followed
    // pages cannot be split, so the first task fetches them all.
    let cases = [("offsets", (634, 7), (600, 6)), ("cursors", (1234, 13), (0, 0))];
    for (name, first, second) in cases {
        let body = &sources.iter().find(|(n, _)| *n == name).unwrap().1;
        let mut parts = Vec::new();
        for (index, (rows_expected, pages)) in [first, second].into_iter().enumerate() {
            let dir = root.join(format!("{name}-{index}"));
            write_source(&dir, name, body);
            let task = index.to_string();
            let env = [("GEN_TOKEN", SECRET), ("CLOUD_RUN_TASK_INDEX", &task), ("CLOUD_RUN_TASK_COUNT", "2")];
            let output = run(&dir, name, "users", &[], &env);
            assert!(output.status.success(), "{name} task {index}: {}", text(&output));
            let job = &printed_jobs(&output)[0];
            assert_eq!(job["state"], "succeeded", "{name} task {index}: {job}");
            assert_eq!(
                (job["rows"].as_i64(), job["pages_done"].as_i64()),
                (Some(rows_expected), Some(pages)),
                "{name} task {index}: {job}"
            );
            if rows_expected > 0 {
                parts.push(dir.join("duckhaul.duckdb"));
            }
        }
        // Together: every record once.
        let conn = duckdb::Connection::open_in_memory().unwrap();
        for (i, db) in parts.iter().enumerate() {
            conn.execute_batch(&format!("ATTACH '{}' AS task{i} (READ_ONLY)", db.display())).unwrap();
        }
        let union: Vec<String> = (0..parts.len()).map(|i| format!("SELECT _index FROM task{i}.users")).collect();
        let union = union.join(" UNION ALL ");
        let sql = format!("SELECT count(*), count(DISTINCT _index), min(_index), max(_index) FROM ({union})");
        let got: (i64, i64, i64, i64) =
            conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap();
        assert_eq!(got, (1234, 1234, 0, 1233), "{name}");
    }
}

#[test]
fn an_upstream_that_caps_the_page_size_below_the_files_fails_the_job_saying_so() {
    // The file names no limit parameter, so the generic fake answers its default of 100
    // records a page where the file expects 500: planned pages by offset would each miss 400
    // records if the job went on.
    let (_tmp, dir) = temp_dir();
    let api = FakeApi::start(SECRET);
    let body = format!(
        r#"base_url = "{url}"
rate_limit_per_minute = 0
[auth]
kind = "bearer"
token_env = "GEN_TOKEN"
[resources.users]
path = "/generic/offset/users"
params = {{ total = 4000 }}
records = "/data"
pagination = {{ kind = "offset", offset_param = "offset", page_size = 500, total = "/meta/total" }}
"#,
        url = api.url
    );
    write_source(&dir, "capped", &body);
    let output = run(&dir, "capped", "users", &[], &[("GEN_TOKEN", SECRET)]);
    assert!(!output.status.success(), "{}", text(&output));
    let job = &printed_jobs(&output)[0];
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.contains("the first page held 100 records where page_size is 500 and the total 4000")
            && error.contains("set page_size to 100"),
        "{error}"
    );
}

#[test]
fn an_empty_resource_succeeds_with_no_rows_and_makes_no_table() {
    let (_tmp, dir) = temp_dir();
    let server = JsonServer::start_with(&dir, &serde_json::json!({ "orders": [] }));
    let body = format!(
        r#"base_url = "{url}"
rate_limit_per_minute = 0
[resources.orders]
path = "/orders"
records = ""
pagination = {{ kind = "page", page_param = "_page", size_param = "_limit", page_size = 50, total = "header:X-Total-Count" }}
[resources.orders.columns]
id = "BIGINT"
[resources.linked]
path = "/orders"
table = "orders_linked"
records = ""
pagination = {{ kind = "link_header" }}
"#,
        url = server.url
    );
    write_source(&dir, "shop", &body);
    for resource in ["orders", "linked"] {
        let output = run(&dir, "shop", resource, &["--export"], &[]);
        assert!(output.status.success(), "{resource}: {}", text(&output));
        let jobs = printed_jobs(&output);
        assert_eq!((jobs[0]["state"].as_str(), jobs[0]["rows"].as_i64()), (Some("succeeded"), Some(0)), "{jobs:?}");
        assert_eq!(jobs.len(), 1, "nothing to export: {jobs:?}");
    }
    // No table was made from the declared column alone: the next records' fields find theirs.
    let tables = rows(Some(&dir.join("duckhaul.duckdb")), "SELECT count(*) FROM duckhaul_tables");
    assert_eq!(tables, [["0"]]);
}

#[test]
fn a_faker_ingest_refuses_a_table_a_source_fills_even_with_fakers_columns() {
    // fakerusers.toml describes Faker's users exactly: its table `users` has Faker's columns.
    let (_tmp, dir) = temp_dir();
    let api = FakeApi::start(SECRET);
    let text_of_file = std::fs::read_to_string(repo_root().join("tests/fixtures/sources/fakerusers.toml")).unwrap();
    let faker_url = api.url.replace("/generic", "") + "/api/v2";
    write_source(&dir, "fakerusers", &text_of_file.replace("http://127.0.0.1:1/api/v2", &faker_url));
    let output = run(&dir, "fakerusers", "users", &["--quantity", "30"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(printed_jobs(&output)[0]["rows"], 30);

    let faker = duckhaul()
        .env("DUCKHAUL_DATABASE", dir.join("duckhaul.duckdb"))
        .env("DUCKHAUL_DESTINATION", dir.join("exports"))
        .env("DUCKHAUL_UPSTREAM_URL", "builtin")
        .args(["run", "--resource", "users", "--quantity", "10", "--seed", "5"])
        .output()
        .unwrap();
    assert!(!faker.status.success(), "{}", text(&faker));
    assert!(text(&faker).contains("table users holds the records of source fakerusers/users"), "{}", text(&faker));
    let count = rows(Some(&dir.join("duckhaul.duckdb")), "SELECT count(*) FROM users");
    assert_eq!(count, [["30"]]);
}
