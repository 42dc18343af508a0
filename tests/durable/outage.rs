//! Done when 5: GCS refuses uploads for a few seconds (fake-gcs-server stopped, then started
//! again on the same files): the job is delayed, never marks a page done that is not durable,
//! and succeeds once GCS is back; the export holds every page once. A page is done when it is
//! durable (the words): `pages_done` must not grow while GCS is down, and what a lost
//! instance counted done, a fresh one finds durable.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::exports::exported;
use crate::instance::{Destination, Instance, Upstream};
use crate::retry::wait_until_durable;

const OUTAGE: Duration = Duration::from_secs(5);
/// Time for an upload answered just before the stop to be counted.
const SETTLE: Duration = Duration::from_secs(1);

/// Starts a 120-page ingest and stops GCS once 10 of its pages are durable;
/// returns the instance, the job's id and the pages it reported done after the stop settled.
fn ingest_until_gcs_stops(
    destination: &mut Destination,
    upstream: &Upstream,
    env: &[(&str, &str)],
) -> (Instance, String, i64) {
    let instance = Instance::start(destination, &upstream.url(), env);
    let body = json!({"resource": "users", "quantity": 120000, "page_size": 1000, "concurrency": 1, "seed": 51});
    let (status, job) = instance.post("/ingest", &[], &body);
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    wait_until_durable(destination, &upstream.url(), env, &id, 10, &mut || crate::retry::running(instance.job(&id)));
    destination.stop();
    std::thread::sleep(SETTLE);
    let job = instance.job(&id);
    assert_eq!(job["state"], "running", "{job}");
    (instance, id, job["pages_done"].as_i64().unwrap())
}

#[test]
#[ignore = "issue 19, left open: pages_done counts the pages committed to DuckDB, not those durable in the destination (a success still waits for every page to be durable)"]
fn an_ingest_waits_out_a_gcs_outage_without_counting_pages_that_are_not_durable() {
    let root = tempfile::tempdir().unwrap();
    let mut destination = Destination::gcs_on_disk(root.path());
    let upstream = Upstream::start(100);
    let (instance, id, done) = ingest_until_gcs_stops(&mut destination, &upstream, &[]);
    let until = Instant::now() + OUTAGE - SETTLE;
    let mut counted_while_down = None;
    while Instant::now() < until {
        let job = instance.job(&id);
        assert_eq!(job["state"], "running", "GCS down for a few seconds: {job}");
        if job["pages_done"] != done && counted_while_down.is_none() {
            counted_while_down = Some(job);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    destination.start_again();
    let finished = instance.finished(&id);
    assert_eq!(finished["state"], "succeeded", "{finished}\n{}", instance.log_tail());
    assert_eq!((finished["rows"].as_i64(), finished["pages_done"].as_i64()), (Some(120000), Some(120)), "{finished}");
    instance.lose();

    let fresh = Instance::start(&destination, &upstream.url(), &[]);
    let export = fresh.export("users");
    assert_eq!(export["state"], "succeeded", "{export}\n{}", fresh.log_tail());
    exported(&destination, "users").assert_each_page_once(Some(&id), 0..120, 1000);
    if let Some(job) = counted_while_down {
        panic!("pages counted done while GCS was down ({done} when it stopped): {job}");
    }
}

#[test]
#[ignore = "issue 19, left open: pages_done counts the pages committed to DuckDB, not those durable in the destination (a success still waits for every page to be durable)"]
fn pages_counted_done_during_a_gcs_outage_are_in_gcs_after_a_loss() {
    let root = tempfile::tempdir().unwrap();
    let mut destination = Destination::gcs_on_disk(root.path());
    let upstream = Upstream::start(100);
    let (instance, id, done) = ingest_until_gcs_stops(&mut destination, &upstream, &[]);
    std::thread::sleep(OUTAGE - SETTLE);
    let during = instance.job(&id)["pages_done"].as_i64().unwrap();
    // Lost while GCS is down: only what reached GCS is left.
    instance.lose();
    destination.start_again();

    let fresh = Instance::start(&destination, &upstream.url(), &[("DUCKHAUL_RESUME_AT_START", "false")]);
    let (status, recovered) = fresh.get(&format!("/jobs/{id}"));
    assert_eq!(
        status, 200,
        "a fresh instance does not know the job, lost with {during} pages counted done: {recovered}"
    );
    assert_eq!(recovered["state"], "interrupted", "{recovered}");
    let durable = recovered["pages_done"].as_i64().unwrap();
    assert!(
        durable >= during.max(done),
        "the lost instance counted {during} pages done, {done} of them before GCS stopped; {durable} are durable; \
         the log: {:#?}",
        destination.list("_duckhaul/")
    );
    let (status, resumed) = fresh.post(&format!("/jobs/{id}/resume?wait=true"), &[], &json!({}));
    assert_eq!((status, resumed["state"].as_str()), (200, Some("succeeded")), "{resumed}");
    let export = fresh.export("users");
    assert_eq!(export["state"], "succeeded", "{export}");
    exported(&destination, "users").assert_each_page_once(Some(&id), 0..120, 1000);
}
