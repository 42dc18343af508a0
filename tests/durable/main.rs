//! Issue 19, "Done when": a job that says `succeeded` has its rows in the destination whatever
//! happens to the instance after, and a fresh instance on an empty disk carries on with nothing
//! lost and nothing twice. Real `duckhaul` processes, lost as Cloud Run loses an instance
//! (SIGKILL, then the whole data folder deleted), against a real fake-gcs-server (or a local
//! folder); pages fetched are counted by a proxy in front of the upstream; what was exported is
//! read back from the destination's Parquet files.

#[path = "../support/gcs.rs"]
mod gcs;

mod exports;
mod instance;
mod proxy;

mod export_crash;
mod loss;
mod outage;
mod retry;
mod tasks;
