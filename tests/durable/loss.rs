//! Done when 1: an ingest of 50 pages succeeds; the instance is lost before any export; a
//! fresh instance on an empty folder, same destination, exports all 50,000 rows, each page once.
//! The same with a local folder as the destination (`docker compose` keeping only the exports
//! volume).

use serde_json::json;

use crate::exports::exported;
use crate::instance::{Destination, Instance, Upstream};

/// A fresh instance lists `id` in `GET /jobs` (when that endpoint is there).
pub fn assert_listed(instance: &Instance, id: &str) {
    let (status, list) = instance.get("/jobs");
    if status == 404 {
        eprintln!("GET /jobs answers 404: the list is not there yet; GET /jobs/{id} was checked instead");
        return;
    }
    assert_eq!(status, 200, "GET /jobs: {list}");
    assert!(list.to_string().contains(id), "GET /jobs does not list the recovered job {id}: {list}");
}

fn a_succeeded_ingest_survives_the_loss_of_its_instance(destination: Destination) {
    let upstream = Upstream::start(0);
    let first = Instance::start(&destination, &upstream.url(), &[]);
    let body = json!({"resource": "users", "quantity": 50000, "page_size": 1000, "concurrency": 2, "seed": 11});
    let (status, job) = first.post("/ingest?wait=true", &[], &body);
    assert_eq!((status, job["state"].as_str()), (200, Some("succeeded")), "{job}");
    assert_eq!((job["rows"].as_i64(), job["pages_done"].as_i64()), (Some(50000), Some(50)), "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    first.lose();

    let log = destination.list("_duckhaul/");
    assert!(!log.is_empty(), "nothing under _duckhaul/ after a succeeded ingest");
    assert_eq!(destination.list("users/"), Vec::<String>::new(), "exported before any export");

    let fresh = Instance::start(&destination, &upstream.url(), &[]);
    // Read at once (a job recovered as unfinished resumes by itself), checked last, so the
    // export below is checked either way.
    let recovered = fresh.job(&id);
    assert_listed(&fresh, &id);
    let fetched = upstream.users_pages();

    let export = fresh.export("users");
    assert_eq!(export["state"], "succeeded", "{export}\n{}", fresh.log_tail());
    let exported = exported(&destination, "users");
    exported.assert_each_page_once(Some(&id), 0..50, 1000);
    assert_eq!(exported.rows(), 50000);
    assert_eq!(upstream.users_pages(), fetched, "the fresh instance fetched pages that were durable");
    assert_eq!(
        recovered["state"], "succeeded",
        "the job was answered succeeded, then lost; a fresh instance shows it {recovered}\nthe log after the loss: {log:#?}"
    );
    assert_eq!((recovered["rows"].as_i64(), recovered["pages_done"].as_i64()), (Some(50000), Some(50)), "{recovered}");
}

#[test]
fn a_succeeded_ingest_is_exported_whole_by_a_fresh_instance_after_a_loss() {
    let destination = Destination::gcs_behind_proxy();
    // Real GCS answers a request in tens to hundreds of milliseconds, the emulator at once: as
    // slow as GCS at its slowest, so a write left for after the answer is left every run.
    destination.proxy().set_delay_ms(300);
    a_succeeded_ingest_survives_the_loss_of_its_instance(destination);
}

/// No proxy can slow a folder: a state written after the answer is lost only when the kill
/// comes first (most runs on a busy machine; the GCS test above, every run).
#[test]
fn a_local_destination_folder_survives_the_loss_of_the_data_folder() {
    a_succeeded_ingest_survives_the_loss_of_its_instance(Destination::folder());
}
