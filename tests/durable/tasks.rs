//! Done when 3 (Cloud Run Jobs): `duckhaul run` as task 1 of 3 is lost after 30 or more of its
//! 100 pages; Cloud Run retries the task in a fresh container (same execution, empty disk): it
//! reuses the pages its earlier attempt made durable, fetches at most the one in flight again,
//! and its part holds each of the task's pages once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use crate::exports::exported;
use crate::instance::{Destination, LONG, Upstream, duckhaul};
use crate::retry::{durable_pages, wait_until_durable};

const EXECUTION: &str = "haul-users-k8f2m";

/// `duckhaul run` as task 1 of 3 of the execution, on a data folder of its own.
fn task(destination: &Destination, upstream: &Upstream, data: &std::path::Path) -> Command {
    let mut command = duckhaul();
    command
        .env("DUCKHAUL_DATABASE", data.join("duckhaul.duckdb"))
        .env("DUCKHAUL_UPSTREAM_URL", upstream.url())
        .envs(destination.env())
        .env("CLOUD_RUN_TASK_INDEX", "1")
        .env("CLOUD_RUN_TASK_COUNT", "3")
        .env("CLOUD_RUN_EXECUTION", EXECUTION)
        // 300 pages for the execution: pages 1, 4, …, 298 are this task's 100.
        .args(["run", "--resource", "users", "--quantity", "300000", "--page-size", "1000", "--concurrency", "1"])
        .args(["--export", "--log-format", "text"]);
    command
}

/// `pages_done=N` of a progress line.
fn pages_done(line: &str) -> Option<i64> {
    let rest = line.split("pages_done=").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[test]
fn a_retried_task_reuses_the_pages_its_lost_attempt_made_durable() {
    let upstream = Upstream::start(600);
    let destination = Destination::gcs();

    let first_data = tempfile::tempdir().unwrap();
    let mut first =
        task(&destination, &upstream, first_data.path()).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let (progress, seen) = mpsc::channel();
    let stderr = first.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if progress.send(line).is_err() {
                return;
            }
        }
    });
    let mut log = Vec::new();
    let mut id = None;
    loop {
        let line = seen.recv_timeout(LONG).unwrap_or_else(|e| panic!("no progress line ({e}):\n{}", log.join("\n")));
        log.push(line.clone());
        if line.contains("ingest started") {
            id = line.split("job=").nth(1).and_then(|rest| rest.split_whitespace().next()).map(str::to_string);
        }
        if pages_done(&line).is_some_and(|done| done >= 30) {
            break;
        }
    }
    let id = id.unwrap_or_else(|| panic!("no job id in the log:\n{}", log.join("\n")));
    wait_until_durable(&destination, &upstream.url(), &[], &id, 30, &mut || match first.try_wait().unwrap() {
        None => Ok(()),
        Some(status) => Err(format!("the task exited: {status}")),
    });
    // Lost as Cloud Run loses a task's container: SIGKILL, then its disk is gone.
    first.kill().unwrap();
    first.wait().unwrap();
    std::fs::remove_dir_all(first_data.path()).unwrap();
    let before = upstream.users_pages();
    let durable = durable_pages(&destination, &upstream.url(), &[], &id).unwrap();
    eprintln!("{durable} pages of the task durable after the loss, {before} fetched");
    assert!(durable < 100, "the first attempt finished before it was lost:\n{}", log.join("\n"));

    let retry_data = tempfile::tempdir().unwrap();
    let output = task(&destination, &upstream, retry_data.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the retried task failed:\n{stderr}");
    let jobs: Vec<Value> =
        serde_json::Deserializer::from_slice(&output.stdout).into_iter::<Value>().map(Result::unwrap).collect();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let (ingest, export) = (&jobs[0], &jobs[1]);
    assert_eq!(ingest["state"], "succeeded", "{ingest}");
    assert_eq!((ingest["rows"].as_i64(), ingest["pages_total"].as_i64()), (Some(100000), Some(100)), "{ingest}");
    assert_eq!(export["state"], "succeeded", "{export}");
    let refetched = upstream.users_pages() - before;
    eprintln!("the retried task fetched {refetched} pages");
    assert!(
        refetched <= 100 - durable as usize + 1,
        "the retried task fetched {refetched} pages where {durable} of its 100 were durable before the loss"
    );

    let exported = exported(&destination, "users");
    exported.assert_each_page_once(None, (0..100).map(|i| 1 + 3 * i), 1000);
    assert_eq!(exported.parquet.len(), 1, "one part: {:?}", exported.parquet);
    assert!(exported.parquet[0].ends_with(&format!("/{EXECUTION}-part-1-of-3.parquet")), "{:?}", exported.parquet);
}
