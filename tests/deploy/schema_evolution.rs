//! Tables that follow their API as it changes (issue 20), through the real binary against
//! json-server 0.17: tickets whose shape changes along the collection (a nested key from record
//! 301, a field null until record 500 then fractional, integers that turn x.5 past 600, dates
//! that turn timestamps past 700, a field appearing on page 21, a string in a number at record
//! 777), fetched as planned pages in parallel (offset with a total) and followed (Link
//! header); then a second run whose records bring a new field; and `freeze`, which fails naming
//! the field and changes nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{Service, duckhaul, temp_dir};
use crate::files::parquet_files;
use crate::source_ingest::{printed_jobs, rows, run, text, write_source};
use crate::sources::JsonServer;

/// Page size of every resource here: record 801 opens page 21.
const PAGE: u64 = 40;

/// Ticket `i` (from 1) as the API serves it at that point of the collection.
fn ticket(i: u64) -> Value {
    let mut t = json!({
        "id": i,
        "title": format!("Ticket {i}"),
        "priority": i % 5,
        "estimate": i % 13,
        "due": format!("2026-01-{:02}", i % 28 + 1),
        "customer": {"name": format!("C{}", i % 17)},
        "score": null,
    });
    if i > 300 {
        t["customer"]["tier"] = json!(if i % 2 == 0 { "gold" } else { "silver" });
    }
    if i > 500 {
        t["score"] = json!(i as f64 + 0.25);
    }
    if i > 600 && i % 7 == 0 {
        t["priority"] = json!((i % 5) as f64 + 0.5);
    }
    if i > 700 {
        t["due"] = json!(format!("2026-02-{:02}T10:30:00+02:00", i % 28 + 1));
    }
    if i > 800 {
        t["assignee"] = json!(format!("agent{}", i % 9));
    }
    if i == 777 {
        t["estimate"] = json!("n/a");
    }
    if i > 1000 {
        t["sla"] = json!(i % 4);
        t["customer"]["region"] = json!("emea");
    }
    t
}

fn serve(dir: &Path, ids: std::ops::RangeInclusive<u64>) -> JsonServer {
    let tickets: Vec<Value> = ids.map(ticket).collect();
    JsonServer::start_with(dir, &json!({ "tickets": tickets }))
}

fn serve_slowly(dir: &Path, ids: std::ops::RangeInclusive<u64>, delay_ms: u64) -> JsonServer {
    let tickets: Vec<Value> = ids.map(ticket).collect();
    JsonServer::start_delayed(dir, &json!({ "tickets": tickets }), delay_ms)
}

fn source(dir: &Path, url: &str) {
    write_source(
        dir,
        "desk",
        &format!(
            r#"
base_url = "{url}"
rate_limit_per_minute = 0
concurrency = 4

[resources.tickets]
path = "/tickets"
records = ""
pagination = {{ kind = "offset", offset_param = "_start", limit_param = "_limit", page_size = {PAGE}, total = "header:X-Total-Count" }}

[resources.linked]
path = "/tickets"
table = "tickets_linked"
records = ""
params = {{ _page = 1, _limit = {PAGE} }}
pagination = {{ kind = "link_header" }}

[resources.frozen]
path = "/tickets"
table = "tickets_frozen"
records = ""
contract = "freeze"
pagination = {{ kind = "offset", offset_param = "_start", limit_param = "_limit", page_size = {PAGE}, total = "header:X-Total-Count" }}
"#
        ),
    );
}

/// `name TYPE` of each column of `table`, lineage aside.
fn columns(db: &Path, table: &str) -> Vec<String> {
    rows(
        Some(db),
        &format!(
            "SELECT column_name || ' ' || data_type FROM information_schema.columns
             WHERE table_name = '{table}' AND column_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY column_name"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

/// What the table must hold for ticket `i`: id, priority, score, assignee, the due instant in
/// ms, customer name and tier, estimate, title.
fn expected_row(i: u64) -> Vec<String> {
    let t = ticket(i);
    let text = |v: &Value| v.as_str().map_or("NULL".to_string(), str::to_string);
    let number = |v: &Value| v.as_f64().map_or("NULL".to_string(), |x| x.to_string());
    let due = t["due"].as_str().unwrap();
    let due_ms = match chrono::DateTime::parse_from_rfc3339(due) {
        Ok(instant) => instant.timestamp_millis(),
        Err(_) => chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis(),
    };
    vec![
        i.to_string(),
        number(&t["priority"]),
        number(&t["score"]),
        text(&t["assignee"]),
        due_ms.to_string(),
        text(&t["customer"]["name"]),
        text(&t["customer"]["tier"]),
        t["estimate"].to_string(),
        text(&t["title"]),
    ]
}

fn stored_rows(db: &Path, table: &str, to: u64) -> Vec<Vec<String>> {
    rows(
        Some(db),
        &format!(
            "SELECT id, priority, score, assignee, epoch_ms(due), customer.name, customer.tier, estimate, title
             FROM {table} WHERE id <= {to} ORDER BY id"
        ),
    )
}

fn changed_columns(job: &Value) -> Vec<(String, String)> {
    let mut changes: Vec<(String, String)> = job["schema_changes"]
        .as_array()
        .unwrap_or_else(|| panic!("{job}"))
        .iter()
        .map(|c| (c["column"].as_str().unwrap().to_string(), c["change"].as_str().unwrap().to_string()))
        .collect();
    changes.sort();
    changes
}

#[test]
fn a_table_follows_its_api_as_it_changes_in_parallel_followed_and_between_runs() {
    let (_tmp, dir) = temp_dir();
    let server = serve(&dir, 1..=1000);
    source(&dir, &server.url);
    let db = dir.join("duckhaul.duckdb");

    // Planned pages, 4 at a time: they widen the table in whatever order they come.
    let output = run(&dir, "desk", "tickets", &["--export"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let jobs = printed_jobs(&output);
    let job = &jobs[0];
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (job["rows"].as_u64(), job["quarantined"].as_u64(), job["pages_total"].as_u64()),
        (Some(999), Some(1), Some(25))
    );
    assert_eq!(
        changed_columns(job),
        [
            ("assignee".into(), "added".into()),
            ("customer.tier".into(), "added".into()),
            ("due".into(), "widened".into()),
            ("priority".into(), "widened".into()),
            ("score".into(), "typed".into()),
        ]
    );
    let assignee = job["schema_changes"].as_array().unwrap().iter().find(|c| c["column"] == "assignee").unwrap();
    assert_eq!((assignee["page"].as_u64(), assignee["to"].as_str()), (Some(20), Some("VARCHAR")), "{job}");
    let expected_columns = [
        "assignee VARCHAR",
        "customer STRUCT(\"name\" VARCHAR, tier VARCHAR)",
        "due TIMESTAMP WITH TIME ZONE",
        "estimate BIGINT",
        "id BIGINT",
        "priority DOUBLE",
        "score DOUBLE",
        "title VARCHAR",
    ];
    assert_eq!(columns(&db, "tickets"), expected_columns);
    // Every value kept: the integers before the first fraction, the dates before the first
    // timestamp (at midnight UTC), the nulls before a field or member appeared.
    let expected: Vec<Vec<String>> = (1..=1000).filter(|i| *i != 777).map(expected_row).collect();
    assert_eq!(stored_rows(&db, "tickets", 1000), expected);

    // The one record no widening holds: whole, where it was, and why.
    let quarantined = rows(Some(&db), "SELECT record, record_index, _page, field, reason FROM tickets__quarantine");
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    let record: Value = serde_json::from_str(&quarantined[0][0]).unwrap();
    assert_eq!(record, ticket(777));
    assert_eq!(quarantined[0][1..4], ["16".to_string(), "19".into(), "/estimate".into()]);
    assert_eq!(quarantined[0][4], r#"expected an integer, got the string "n/a""#);
    // Exported like any table, beside the table's own file.
    let exported = jobs[1]["objects"].as_array().unwrap_or_else(|| panic!("{}", jobs[1]));
    let tables: Vec<(&str, u64)> =
        exported.iter().map(|o| (o["table"].as_str().unwrap(), o["rows"].as_u64().unwrap())).collect();
    assert_eq!(tables, [("tickets", 999), ("tickets__quarantine", 1)], "{}", jobs[1]);
    assert_eq!(parquet_files(&dir.join("exports").join("tickets__quarantine")).len(), 1);

    // The same collection followed page after page makes the same table.
    let output = run(&dir, "desk", "linked", &[], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let job = &printed_jobs(&output)[0];
    assert_eq!(
        (job["rows"].as_u64(), job["quarantined"].as_u64(), job["pages_done"].as_u64()),
        (Some(999), Some(1), Some(25)),
        "{job}"
    );
    assert_eq!(columns(&db, "tickets_linked"), expected_columns);
    assert_eq!(stored_rows(&db, "tickets_linked", 1000), expected);

    // The API moves on: a new field and a new nested key, on the next run.
    drop(server);
    let server = serve(&dir, 1001..=1200);
    source(&dir, &server.url);
    let output = run(&dir, "desk", "tickets", &[], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let job = &printed_jobs(&output)[0];
    assert_eq!((job["rows"].as_u64(), job["quarantined"].as_u64()), (Some(200), Some(0)), "{job}");
    assert_eq!(changed_columns(job), [("customer.region".into(), "added".into()), ("sla".into(), "added".into())]);
    assert_eq!(
        columns(&db, "tickets"),
        [
            "assignee VARCHAR",
            "customer STRUCT(\"name\" VARCHAR, tier VARCHAR, region VARCHAR)",
            "due TIMESTAMP WITH TIME ZONE",
            "estimate BIGINT",
            "id BIGINT",
            "priority DOUBLE",
            "score DOUBLE",
            "sla BIGINT",
            "title VARCHAR",
        ]
    );
    assert_eq!(stored_rows(&db, "tickets", 1000), expected, "the earlier rows are as they were");
    let later = rows(
        Some(&db),
        "SELECT count(*), count(sla), count(customer.region), min(id) FROM tickets WHERE id > 1000 OR sla IS NOT NULL",
    );
    assert_eq!(later, [["200", "200", "200", "1001"]]);
    assert_eq!(rows(Some(&db), "SELECT count(*) FROM tickets"), [["1199"]]);

    // The BigQuery schema follows the table as it is now.
    let output = duckhaul().args(["bigquery-schema", "tickets", "--database"]).arg(&db).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let fields: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap_or_else(|| panic!("{name}: {fields:?}"));
    assert_eq!((field("priority")["type"].as_str(), field("sla")["type"].as_str()), (Some("FLOAT"), Some("INTEGER")));
    assert_eq!(
        (field("due")["type"].as_str(), field("assignee")["type"].as_str()),
        (Some("TIMESTAMP"), Some("STRING"))
    );
    let members: Vec<&str> =
        field("customer")["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(members, ["name", "tier", "region"]);
}

#[test]
fn a_frozen_table_fails_the_pages_that_would_change_it_and_stays_as_it_was() {
    let (_tmp, dir) = temp_dir();
    let server = serve(&dir, 1..=1000);
    source(&dir, &server.url);
    let db = dir.join("duckhaul.duckdb");

    let output = run(&dir, "desk", "frozen", &[], &[]);
    assert!(!output.status.success(), "{}", text(&output));
    let job = &printed_jobs(&output)[0];
    assert_eq!(job["state"], "failed", "{job}");
    // Record 301 (page 7, index 20) is the first with the customer's tier; every page from
    // there on brings it.
    let failed = job["failed_pages"].as_array().unwrap();
    let pages: Vec<u64> = failed.iter().map(|f| f["page"].as_u64().unwrap()).collect();
    assert_eq!(pages, (7..25).collect::<Vec<u64>>(), "{job}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "record 20, field /customer/tier: a field the table has no column for (the contract is freeze: the table \
             is not changed)"
        ),
        "{error}"
    );
    // Nothing added or widened: the first page's columns, and the score, null on it, a VARCHAR.
    assert_eq!(
        columns(&db, "tickets_frozen"),
        [
            "customer STRUCT(\"name\" VARCHAR)",
            "due DATE",
            "estimate BIGINT",
            "id BIGINT",
            "priority BIGINT",
            "score VARCHAR",
            "title VARCHAR",
        ]
    );
    assert_eq!(job["schema_changes"], json!([]), "{job}");
    // The pages before the first change loaded.
    assert_eq!(rows(Some(&db), "SELECT count(*), max(id) FROM tickets_frozen"), [["280", "280"]]);
}

#[test]
fn sources_check_reads_pages_and_says_what_each_would_change() {
    let (_tmp, dir) = temp_dir();
    let server = serve(&dir, 1..=1000);
    source(&dir, &server.url);
    let file = dir.join("sources").join("desk.toml");
    let output = duckhaul()
        .args(["sources", "check"])
        .arg(&file)
        .args(["--resource", "tickets", "--pages", "25"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // Pages are counted from 1 here: page 8 holds record 301, page 20 record 777, page 21 record 801.
    let page = |n: usize| -> String {
        let start = stdout.find(&format!("  page {n}: GET ")).unwrap_or_else(|| panic!("no page {n}: {stdout}"));
        let rest = &stdout[start..];
        let end = rest.find(&format!("  page {}: GET ", n + 1)).or_else(|| rest.find("\nCREATE")).unwrap();
        rest[..end].to_string()
    };
    assert!(page(2).ends_with(": 40 records\n"), "{}", page(2));
    assert!(page(8).contains("    added customer.tier: VARCHAR\n"), "{}", page(8));
    assert!(page(13).contains("    typed score: VARCHAR -> DOUBLE\n"), "{}", page(13));
    assert!(page(16).contains("    widened priority: BIGINT -> DOUBLE\n"), "{}", page(16));
    assert!(page(18).contains("    widened due: DATE -> TIMESTAMPTZ\n"), "{}", page(18));
    assert!(
        page(20).contains("    quarantined: record 16, field /estimate: expected an integer, got the string \"n/a\"\n"),
        "{}",
        page(20)
    );
    assert!(page(21).contains("    added assignee: VARCHAR\n"), "{}", page(21));
    // The table it would make, as the 25 pages leave it.
    for column in ["\"priority\" DOUBLE,", "\"assignee\" VARCHAR,", "\"due\" TIMESTAMPTZ,", "\"score\" DOUBLE,"] {
        assert!(stdout.contains(column), "{column}: {stdout}");
    }
    // Nothing is stored.
    assert!(!dir.join("duckhaul.duckdb").exists());
}

#[test]
fn an_evolving_ingest_killed_mid_run_resumes_by_itself_with_every_record_once() {
    let (_tmp, dir) = temp_dir();
    // Slowed, so that the kill comes mid-run: 25 pages, 2 at a time, 300 ms each.
    let server = serve_slowly(&dir, 1..=1000, 300);
    source(&dir, &server.url);
    let sources = dir.join("sources");
    let env = [("DUCKHAUL_SOURCES_DIR", sources.as_os_str())];
    let service = Service::start(&dir, &env);
    let job = service.post("/ingest", json!({"source": "desk", "resource": "tickets", "concurrency": 2}));
    let id = job["id"].as_str().unwrap_or_else(|| panic!("{job}")).to_string();
    // Past the first widening (the tier, page 7), well before the last page.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = service.get(&format!("/jobs/{id}"));
        if job["pages_done"].as_u64().unwrap_or(0) >= 10 {
            assert_ne!(job["state"], "succeeded", "the job ended before the kill: {job}");
            break;
        }
        assert!(Instant::now() < deadline, "the job never got going: {job}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(service); // SIGKILL

    // No resume call: the restarted service finishes the job by itself.
    let service = Service::start(&dir, &env);
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let job = service.get(&format!("/jobs/{id}"));
        if job["state"] == "succeeded" || job["state"] == "failed" {
            break job;
        }
        assert!(Instant::now() < deadline, "the job never ended: {job}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["auto_resumes"], 1, "{done}");
    assert_eq!((done["rows"].as_u64(), done["quarantined"].as_u64()), (Some(999), Some(1)), "{done}");
    assert_eq!(changed_columns(&done).len(), 5, "{done}");
    service.stop();

    let db = dir.join("duckhaul.duckdb");
    let expected: Vec<Vec<String>> = (1..=1000).filter(|i| *i != 777).map(expected_row).collect();
    assert_eq!(stored_rows(&db, "tickets", 1000), expected, "every record once, every value kept");
    assert_eq!(rows(Some(&db), "SELECT count(*) FROM tickets__quarantine"), [["1"]]);
}
