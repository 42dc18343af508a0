//! Done when 4: an instance lost during an export, after the Parquet object and before its
//! manifest, or after the manifest and before the export is recorded. A proxy in front of
//! fake-gcs-server holds the write at that step unanswered, so the loss happens exactly there,
//! every run; a fresh instance's export then neither loses nor repeats a page: together, the
//! exports in `users/dt=*/` (what a BigQuery load of them takes) hold each page once.
//!
//! Incremental exports: each takes the pages no export holds yet, so exactly once is theirs to
//! keep. (A snapshot export holds the whole table every time, by design: two snapshots repeat
//! every page.)

use serde_json::json;

use crate::exports::exported;
use crate::instance::{Destination, Instance, LONG, Upstream, wait_until};
use crate::proxy::{Matcher, Proxy};

fn names_the_manifest() -> Matcher {
    Box::new(|seen: &str| seen.contains("&name=x/users/dt=") && seen.contains(".manifest.json&"))
}

fn an_export_lost_at(hold: impl FnOnce(&Proxy)) {
    let upstream = Upstream::start(0);
    let destination = Destination::gcs_behind_proxy();
    let first = Instance::start(&destination, &upstream.url(), &[]);
    let body = json!({"resource": "users", "quantity": 20000, "page_size": 1000, "concurrency": 2, "seed": 41});
    let (status, ingest) = first.post("/ingest?wait=true", &[], &body);
    assert_eq!((status, ingest["state"].as_str()), (200, Some("succeeded")), "{ingest}");
    let id = ingest["id"].as_str().unwrap().to_string();

    hold(destination.proxy());
    let (status, export) = first.post("/export", &[], &json!({"tables": ["users"], "mode": "incremental"}));
    assert_eq!(status, 202, "{export}");
    let export_id = export["id"].as_str().unwrap();
    wait_until("the export's held write", LONG, || {
        let job = first.job(export_id);
        let state = job["state"].as_str().unwrap_or_default();
        assert!(state == "queued" || state == "running", "the export never reached the held step: {job}");
        destination.proxy().holds_a_request()
    });
    first.lose();
    destination.proxy().release();

    let fresh = Instance::start(&destination, &upstream.url(), &[]);
    let (status, export) = fresh.post("/export?wait=true", &[], &json!({"tables": ["users"], "mode": "incremental"}));
    assert_eq!((status, export["state"].as_str()), (200, Some("succeeded")), "{export}\n{}", fresh.log_tail());
    if std::env::var_os("DURABLE_DEBUG").is_some() {
        eprintln!("{:#?}", destination.list(""));
        eprintln!("{:#?}", destination.proxy().requests().iter().filter(|r| !r.starts_with("GET")).collect::<Vec<_>>());
        eprintln!("{export}");
    }
    exported(&destination, "users").assert_each_page_once(Some(&id), 0..20, 1000);
}

#[test]
fn an_export_lost_after_its_parquet_before_its_manifest_is_done_once_by_a_fresh_instance() {
    an_export_lost_at(|proxy| proxy.hold_write(names_the_manifest()));
}

#[test]
fn an_export_lost_after_its_manifest_before_it_is_recorded_is_not_repeated_by_a_fresh_instance() {
    an_export_lost_at(|proxy| proxy.hold_write_after(names_the_manifest()));
}
