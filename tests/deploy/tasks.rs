//! `duckhaul run` as the tasks of a Cloud Run job: three processes, each with its own
//! database and CLOUD_RUN_TASK_INDEX, together write exactly the requested rows, each page
//! once, as three part files, the same data one unsplit run writes.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::cli;
use crate::files::parquet_files;

const EXECUTION: &str = "duckhaul-ingest-x7k2p";

/// The JSON documents `duckhaul run` prints: the ingest job, then the export job.
fn jobs(output: &Output) -> Vec<Value> {
    serde_json::Deserializer::from_slice(&output.stdout).into_iter::<Value>().map(Result::unwrap).collect()
}

fn run(dir: &Path, database: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    cli::duckhaul()
        .env("DUCKHAUL_UPSTREAM_URL", "builtin")
        .env("DUCKHAUL_DATABASE", dir.join(database).join("duckhaul.duckdb"))
        .env("DUCKHAUL_DESTINATION", dir.join("exports"))
        .envs(env.iter().copied())
        .arg("run")
        .args(args)
        .output()
        .unwrap()
}

fn query_i64(sql: &str) -> i64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn three_tasks_write_every_page_exactly_once_as_three_parts() {
    let (_tmp, dir) = cli::temp_dir();
    // 26 pages of 100 (the last one 50 rows): tasks take 9, 9 and 8 pages.
    let args = ["--resource", "users", "--quantity", "2550", "--page-size", "100", "--export"];
    let mut seeds = Vec::new();
    for index in 0..3u32 {
        let index_s = index.to_string();
        // The rate limit is the upstream's, for the whole execution: each task takes a third.
        let env = [
            ("CLOUD_RUN_TASK_INDEX", index_s.as_str()),
            ("CLOUD_RUN_TASK_COUNT", "3"),
            ("CLOUD_RUN_EXECUTION", EXECUTION),
            ("DUCKHAUL_UPSTREAM_RATE_LIMIT", "6000"),
        ];
        let output = run(&dir, &format!("task{index}"), &env, &args);
        assert!(output.status.success(), "task {index}: {}", String::from_utf8_lossy(&output.stderr));
        let jobs = jobs(&output);
        assert_eq!(jobs.len(), 2, "{jobs:?}");
        let (ingest, export) = (&jobs[0], &jobs[1]);
        assert_eq!(ingest["state"], "succeeded");
        assert_eq!(ingest["pages_total"], [9, 9, 8][index as usize], "{ingest}");
        assert_eq!(ingest["rows"], [900, 850, 800][index as usize], "{ingest}");
        assert_eq!(ingest["pace_per_minute"], 2000.0, "{ingest}");
        seeds.push(ingest["base_seed"].as_i64().unwrap());
        assert_eq!(export["state"], "succeeded", "{export}");
        let objects = export["objects"].as_array().unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["rows"], ingest["rows"]);
        let uri = objects[0]["uri"].as_str().unwrap();
        assert!(uri.ends_with(&format!("/{EXECUTION}-part-{index}-of-3.parquet")), "{uri}");
        assert!(uri.contains("/users/dt="), "{uri}");
    }
    // Every task derived the same base seed from the execution's name.
    assert!(seeds.iter().all(|s| *s == seeds[0]), "{seeds:?}");

    let parts = parquet_files(&dir.join("exports"));
    assert_eq!(parts.len(), 3, "{parts:?}");
    let all = format!("read_parquet('{}/exports/users/*/*.parquet')", dir.display());
    assert_eq!(query_i64(&format!("SELECT count(*) FROM {all}")), 2550);
    assert_eq!(query_i64(&format!("SELECT count(DISTINCT _page) FROM {all}")), 26);
    assert_eq!(
        query_i64(&format!("SELECT max(n) FROM (SELECT count(DISTINCT _job_id) n FROM {all} GROUP BY _page)")),
        1
    );
    assert_eq!(query_i64(&format!("SELECT count(DISTINCT uuid) FROM {all}")), 2550);
    for (index, part) in parts.iter().enumerate() {
        let name = part.file_name().unwrap().to_string_lossy();
        let index =
            name.split("-part-").nth(1).unwrap().split('-').next().unwrap().parse::<i64>().unwrap_or(index as i64);
        let sql = format!("SELECT count(*) FROM read_parquet('{}') WHERE _page % 3 <> {index}", part.display());
        assert_eq!(query_i64(&sql), 0, "{name} holds another task's pages");
    }

    // One unsplit run with that seed writes the same records.
    let seed = seeds[0].to_string();
    let whole = run(
        &dir,
        "whole",
        &[("DUCKHAUL_DESTINATION", dir.join("whole").to_str().unwrap())],
        &[&args[..], &["--seed", &seed]].concat(),
    );
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let whole_files = format!("read_parquet('{}/whole/users/*/*.parquet')", dir.display());
    let differ = format!(
        "SELECT count(*) FROM ((SELECT uuid, email, _page FROM {all} EXCEPT SELECT uuid, email, _page FROM {whole_files}) \
         UNION ALL (SELECT uuid, email, _page FROM {whole_files} EXCEPT SELECT uuid, email, _page FROM {all}))"
    );
    assert_eq!(query_i64(&differ), 0);
}

#[test]
fn split_runs_refuse_to_start_without_a_shared_seed_or_with_a_bad_index() {
    let (_tmp, dir) = cli::temp_dir();
    let output = run(&dir, "a", &[("CLOUD_RUN_TASK_COUNT", "2"), ("CLOUD_RUN_TASK_INDEX", "1")], &["--quantity", "10"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--seed") && stderr.contains("CLOUD_RUN_EXECUTION"), "{stderr}");

    let output = run(
        &dir,
        "a",
        &[("CLOUD_RUN_TASK_COUNT", "2"), ("CLOUD_RUN_TASK_INDEX", "2")],
        &["--quantity", "10", "--seed", "1"],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("task index 2 is out of range for 2 tasks"), "{stderr}");
    // Refused before anything was opened or written.
    assert!(!dir.join("a").exists());
}

#[test]
fn a_failed_run_exits_non_zero_with_plain_progress_lines() {
    let (_tmp, dir) = cli::temp_dir();
    // Nothing listens on port 9 of the loopback: every page fails at once.
    let env = [("DUCKHAUL_UPSTREAM_URL", "http://127.0.0.1:9/api/v2"), ("DUCKHAUL_UPSTREAM_MAX_ATTEMPTS", "1")];
    let output = run(&dir, "db", &env, &["--quantity", "3000", "--seed", "4", "--export"]);
    assert_eq!(output.status.code(), Some(1));
    let jobs = jobs(&output);
    assert_eq!(jobs.len(), 1, "no export after a failed ingest: {jobs:?}");
    assert_eq!(jobs[0]["state"], "failed");
    assert_eq!(jobs[0]["failed_pages"].as_array().unwrap().len(), 3);
    // Not a terminal: log lines, no progress bar drawing.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\r') && !stderr.contains("\x1b["), "{stderr:?}");
    assert!(stderr.contains("ingest started"), "{stderr}");

    // A run that works prints its progress as plain lines too.
    let output =
        run(&dir, "db2", &[], &["--resource", "places", "--quantity", "2000", "--page-size", "100", "--seed", "4"]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\r'), "{stderr:?}");
    assert!(stderr.contains("job finished"), "{stderr}");
}

#[test]
fn a_part_export_leaves_the_incremental_watermark_alone() {
    let (_tmp, dir) = cli::temp_dir();
    let part = run(
        &dir,
        "db",
        &[("CLOUD_RUN_TASK_INDEX", "0"), ("CLOUD_RUN_TASK_COUNT", "2")],
        &["--quantity", "400", "--page-size", "100", "--seed", "1", "--export"],
    );
    assert!(part.status.success(), "{}", String::from_utf8_lossy(&part.stderr));
    assert_eq!(jobs(&part)[1]["objects"][0]["rows"], 200);
    // The part took only its job's rows; an incremental export still owes every row.
    let more = run(&dir, "db", &[], &["--quantity", "100", "--seed", "77", "--export", "--mode", "incremental"]);
    assert!(more.status.success(), "{}", String::from_utf8_lossy(&more.stderr));
    assert_eq!(jobs(&more)[1]["objects"][0]["rows"], 300);
}

#[test]
fn a_retried_task_reports_the_part_an_earlier_attempt_exported() {
    let (_tmp, dir) = cli::temp_dir();
    let env = [("CLOUD_RUN_TASK_INDEX", "1"), ("CLOUD_RUN_TASK_COUNT", "2"), ("CLOUD_RUN_EXECUTION", EXECUTION)];
    let args = ["--quantity", "400", "--page-size", "100", "--export"];
    // Cloud Run retries a failed task in a new container: a fresh database, the same task.
    let first = run(&dir, "attempt1", &env, &args);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let again = run(&dir, "attempt2", &env, &args);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    // The second attempt ingested nothing: it found the first's job, durable in the destination.
    assert_eq!(jobs(&again)[0]["id"], jobs(&first)[0]["id"]);
    let (first, again) = (&jobs(&first)[1]["objects"][0], &jobs(&again)[1]["objects"][0]);
    assert_eq!(
        (&again["uri"], &again["manifest_uri"], &again["rows"]),
        (&first["uri"], &first["manifest_uri"], &first["rows"])
    );
    assert_eq!(again["rows"], 200);
    assert_eq!(parquet_files(&dir.join("exports")).len(), 1);

    // Another request under the same execution and task is refused, never taken for this one.
    let other = run(&dir, "attempt3", &env, &["--quantity", "600", "--page-size", "100", "--export"]);
    assert!(!other.status.success());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("was used with a different request"), "{stderr}");

    // Data without its manifest (an attempt that died between the two): create-only refuses.
    let manifest = first["manifest_uri"].as_str().unwrap();
    std::fs::remove_file(manifest.strip_prefix("file://").unwrap_or(manifest)).unwrap();
    let orphan = run(&dir, "attempt4", &env, &args);
    assert!(!orphan.status.success());
    assert!(jobs(&orphan)[1]["error"].as_str().unwrap().contains("already exists"), "{:?}", jobs(&orphan));
}

#[test]
fn a_retry_after_midnight_finds_the_part_in_yesterdays_folder() {
    let (_tmp, dir) = cli::temp_dir();
    let env = [("CLOUD_RUN_TASK_INDEX", "0"), ("CLOUD_RUN_TASK_COUNT", "2"), ("CLOUD_RUN_EXECUTION", EXECUTION)];
    let args = ["--quantity", "400", "--page-size", "100", "--export"];
    let first = run(&dir, "attempt1", &env, &args);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    // As if the first attempt had run yesterday.
    let today = chrono::Utc::now().date_naive();
    let users = dir.join("exports/users");
    let yesterday = users.join(format!("dt={}", today.pred_opt().unwrap()));
    std::fs::rename(users.join(format!("dt={today}")), &yesterday).unwrap();

    let again = run(&dir, "attempt2", &env, &args);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let object = &jobs(&again)[1]["objects"][0];
    assert!(object["manifest_uri"].as_str().unwrap().starts_with(yesterday.to_str().unwrap()), "{object}");
    assert_eq!(parquet_files(&dir.join("exports")).len(), 1);
}

#[test]
fn a_failed_task_share_resumes_with_its_own_pages_only() {
    let (_tmp, dir) = cli::temp_dir();
    // Task 1 of 2 on an upstream that answers nothing: its pages 1, 3 and 5 (of 6) fail.
    let env = [
        ("CLOUD_RUN_TASK_INDEX", "1"),
        ("CLOUD_RUN_TASK_COUNT", "2"),
        ("CLOUD_RUN_EXECUTION", EXECUTION),
        ("DUCKHAUL_UPSTREAM_URL", "http://127.0.0.1:9/api/v2"),
        ("DUCKHAUL_UPSTREAM_MAX_ATTEMPTS", "1"),
    ];
    let failed = run(&dir, "db", &env, &["--quantity", "600", "--page-size", "100"]);
    assert_eq!(failed.status.code(), Some(1));
    let job = &jobs(&failed)[0];
    assert_eq!((job["state"].as_str(), job["pages_total"].as_u64()), (Some("failed"), Some(3)), "{job}");
    let pages: Vec<u64> = job["failed_pages"].as_array().unwrap().iter().map(|f| f["page"].as_u64().unwrap()).collect();
    assert_eq!(pages, [1, 3, 5]);
    let seed = job["base_seed"].as_i64().unwrap();
    assert!(
        job["failed_pages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["seed"].as_i64() == Some(seed + f["page"].as_i64().unwrap()))
    );

    // The service on the same database, with an upstream that answers, resumes the task's
    // share: the same three pages, with the same seeds, and none of task 0's.
    let service = cli::Service::start(&dir.join("db"), &[]);
    let id = job["id"].as_str().unwrap();
    let done = service.post(&format!("/jobs/{id}/resume?wait=true"), serde_json::json!({}));
    assert_eq!((done["state"].as_str(), done["rows"].as_u64()), (Some("succeeded"), Some(300)), "{done}");
    assert_eq!(done["request"], job["request"], "the request shown is the one accepted");
    service.stop();
    let conn = duckdb::Connection::open(dir.join("db/duckhaul.duckdb")).unwrap();
    let mut stmt = conn.prepare("SELECT DISTINCT _page FROM users ORDER BY _page").unwrap();
    let stored: Vec<i64> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(stored, [1, 3, 5]);
}
