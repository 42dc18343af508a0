//! Logging, set up once by the binary. Plain lines for people; on Cloud Run (or with
//! `DUCKHAUL_LOG_FORMAT=json`) one JSON object per line in the shape Cloud Logging parses
//! (`cloud_logging`), with each request's trace taken from its headers (`cloud_trace`).

pub mod cloud_logging;
pub mod cloud_trace;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON on Cloud Run (`K_SERVICE` or `CLOUD_RUN_JOB` set), text elsewhere.
    #[default]
    Auto,
    Text,
    /// One JSON object per line: `severity`, `message`, `time`, the event's and its spans'
    /// fields, and `logging.googleapis.com/trace` inside a traced request.
    Json,
}

impl LogFormat {
    /// Whether to write JSON; `on_cloud_run` says whether Cloud Run's variables are set.
    pub fn is_json(self, on_cloud_run: bool) -> bool {
        match self {
            LogFormat::Auto => on_cloud_run,
            LogFormat::Text => false,
            LogFormat::Json => true,
        }
    }
}

pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("invalid log filter '{filter}' ({e}); using info");
        EnvFilter::new("info")
    });
    let _ = if json {
        tracing_subscriber::registry()
            .with(filter)
            .with(cloud_logging::SpanFields)
            .with(
                tracing_subscriber::fmt::layer().event_format(cloud_logging::CloudLogging).with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        // Colours only for a person at a terminal, not in files or a platform's log viewer.
        let ansi = std::io::stderr().is_terminal();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .finish()
            .try_init()
    };
}
