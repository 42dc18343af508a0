//! Logging, set up once by the binary. Plain lines on a terminal; one JSON object per line
//! when `DUCKHAUL_LOG_FORMAT=json` (what Cloud Logging parses).

use tracing_subscriber::EnvFilter;

pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("invalid log filter '{filter}' ({e}); using info");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}
