//! Configuration from flags and `DUCKHAUL_*` environment variables (plus `PORT` and
//! `STORAGE_EMULATOR_HOST`), validated once at start so a bad value stops the process with a
//! message that names it, instead of failing a job later.

use anyhow::Context;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::destination::gcs_url::{GcsDestination, emulator_url};

mod http;
pub use http::{HttpArgs, HttpConfig};

/// Requests sent to an upstream path at once before its rate applies: one below the burst of 5
/// that nginx's `limit_req` is most often given, so a request that arrives a little early
/// still finds a token.
pub const DEFAULT_UPSTREAM_BURST: u32 = 4;

/// The special upstream that runs the bundled Faker-compatible server inside the process.
pub const BUILTIN_UPSTREAM: &str = "builtin";

/// Settings shared by `serve` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// DuckDB database file.
    #[arg(long, env = "DUCKHAUL_DATABASE", default_value = "./data/duckhaul.duckdb")]
    pub database: PathBuf,

    /// Upstream base URL including the API version, or `builtin` for the bundled Faker server.
    #[arg(long, env = "DUCKHAUL_UPSTREAM_URL", default_value = "https://fakerapi.it/api/v2")]
    pub upstream_url: String,

    /// Where exports go: a folder, or gs://bucket/prefix.
    #[arg(long, env = "DUCKHAUL_DESTINATION", default_value = "./exports")]
    pub destination: String,

    /// GCS endpoint of an emulator (anonymous credentials), e.g. http://127.0.0.1:4443.
    #[arg(long, env = "DUCKHAUL_GCS_ENDPOINT")]
    pub gcs_endpoint: Option<String>,

    /// Seconds one GCS upload may spend retrying transient errors before the export fails
    /// (and is recorded as failed, to be run again).
    #[arg(long, env = "DUCKHAUL_GCS_RETRY_SECS", default_value_t = 120)]
    pub gcs_retry_secs: u64,

    /// The GCS emulator convention; used when --gcs-endpoint is not set.
    #[arg(long, env = "STORAGE_EMULATOR_HOST", hide = true)]
    pub storage_emulator_host: Option<String>,

    /// Requests per minute to each upstream path (0: unlimited), shared by every job; the pace
    /// starts here, drops after a 429 and climbs back, never above it. Default: 30, the public
    /// API's throttle; unlimited for the builtin upstream. `run` divides it by its task count.
    #[arg(long, env = "DUCKHAUL_UPSTREAM_RATE_LIMIT")]
    pub upstream_rate_limit: Option<u32>,

    /// Requests sent to an upstream path at once when it has been idle, before the rate
    /// applies; keep it no larger than the upstream's limiter accepts (an upstream's
    /// RateLimit-Limit header lowers it).
    #[arg(long, env = "DUCKHAUL_UPSTREAM_BURST", default_value_t = DEFAULT_UPSTREAM_BURST)]
    pub upstream_burst: u32,

    /// Attempts per page before it is recorded as failed (retries use exponential backoff
    /// with full jitter, or the upstream's Retry-After).
    #[arg(long, env = "DUCKHAUL_UPSTREAM_MAX_ATTEMPTS", default_value_t = 6)]
    pub upstream_max_attempts: u32,

    /// Pages fetched at once when a request does not say.
    #[arg(long, env = "DUCKHAUL_CONCURRENCY", default_value_t = 8)]
    pub concurrency: usize,

    /// DuckDB's memory limit, e.g. 48MB or 2GB: its block cache, and the rows not yet
    /// checkpointed (the writer checkpoints whenever the WAL reaches this size). Low by default
    /// so memory stays flat however much is ingested (DuckDB keeps every block it touches cached
    /// up to the limit); an export's Parquet row groups fit in it. Checkpoints of nested tables
    /// run with more, by their width (see `store::checkpoint_memory_limit`).
    #[arg(long, env = "DUCKHAUL_MEMORY_LIMIT", default_value = "48MB")]
    pub memory_limit: String,

    /// DuckDB worker threads. One by default: ingest's parallelism is the fetchers and the
    /// writer thread, and on a small machine extra DuckDB workers only compete with them (and
    /// each buffers its own Parquet row group during an export).
    #[arg(long, env = "DUCKHAUL_DUCKDB_THREADS", default_value_t = 1)]
    pub duckdb_threads: u32,

    /// Parquet row groups of exported files, in compressed bytes: each is at least this big
    /// (but the file's last). BigQuery recommends 16 MiB and more. Memory does not depend on
    /// it: groups are merged on disk.
    #[arg(long, env = "DUCKHAUL_EXPORT_ROW_GROUP_SIZE", default_value = "16MiB")]
    pub export_row_group_size: String,

    /// Log filter (tracing's EnvFilter syntax), e.g. info or duckhaul=debug.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log: String,

    /// Log lines as text or as Cloud Logging JSON; auto: JSON on Cloud Run.
    #[arg(long, env = "DUCKHAUL_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: crate::telemetry::LogFormat,

    /// Google Cloud project of the request traces that log lines are linked to (Cloud Run
    /// does not set it: set it in the service's environment).
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT")]
    pub google_cloud_project: Option<String>,

    /// A folder of SQL views, one `NAME.sql` file each holding `CREATE VIEW NAME AS ...`:
    /// created at start, listed in /status and exported like tables.
    #[arg(long, env = "DUCKHAUL_VIEWS_DIR")]
    pub views_dir: Option<PathBuf>,

    /// A folder of source files, one `NAME.toml` per REST API (see README, "Sources"): loaded
    /// at start, where a bad file or a secret missing from the environment stops the process.
    #[arg(long, env = "DUCKHAUL_SOURCES_DIR")]
    pub sources_dir: Option<PathBuf>,

    /// Resume by themselves, at start, the ingests the last process left interrupted (a crash,
    /// an OOM kill, a redeploy), each at most 3 times; `false` leaves them to
    /// `POST /jobs/{id}/resume`. `serve` only: `run` ingests its own job.
    #[arg(long, env = "DUCKHAUL_RESUME_AT_START", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub resume_at_start: bool,
}

/// `serve`'s own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on (Cloud Run sets PORT).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, env = "DUCKHAUL_HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,

    #[command(flatten)]
    pub settings: Settings,

    #[command(flatten)]
    pub http: HttpArgs,
}

/// Where the upstream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamChoice {
    Url(String),
    /// Start the bundled Faker-compatible server on a loopback port.
    Builtin,
}

/// Settings after validation.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: PathBuf,
    pub upstream: UpstreamChoice,
    pub destination: String,
    pub gcs_endpoint: Option<String>,
    pub gcs_retry: std::time::Duration,
    pub upstream_rate_limit: u32,
    pub upstream_burst: u32,
    /// Processes that leave through one address and so share the upstream's limit (the tasks
    /// of a Cloud Run Jobs execution): each paces at the rate and burst divided by this.
    pub upstream_rate_shared_by: u32,
    pub upstream_max_attempts: u32,
    pub concurrency: usize,
    /// DuckDB's memory limit, in bytes.
    pub memory_limit: u64,
    pub duckdb_threads: u32,
    /// Least compressed size of an exported row group, in bytes.
    pub export_row_group_bytes: u64,
    /// The HTTP surface's limits and auth (defaults for `run`, which serves nothing).
    pub http: HttpConfig,
    /// Project for `logging.googleapis.com/trace` in request logs.
    pub trace_project: Option<String>,
    /// The folder of SQL views, if any.
    pub views_dir: Option<PathBuf>,
    /// The folder of source files, if any.
    pub sources_dir: Option<PathBuf>,
    /// Resume interrupted ingests at start (`serve`).
    pub resume_at_start: bool,
}

impl Default for Config {
    /// Every setting at the default its flag declares, whatever the environment holds: the
    /// base that tests (and code embedding duckhaul) override field by field.
    fn default() -> Self {
        use clap::{Args, FromArgMatches};
        let flags = Settings::augment_args(clap::Command::new("duckhaul"));
        let flags = flags.mut_args(|a| a.env(None::<&'static str>));
        let matches = flags.try_get_matches_from(["duckhaul"]).expect("every setting has a default");
        let settings = Settings::from_arg_matches(&matches).expect("the defaults parse");
        settings.validate().expect("the defaults are valid")
    }
}

impl Settings {
    /// Checks every value; the error names the setting and what it accepts.
    pub fn validate(&self) -> anyhow::Result<Config> {
        let upstream = if self.upstream_url == BUILTIN_UPSTREAM {
            UpstreamChoice::Builtin
        } else {
            let url = reqwest::Url::parse(&self.upstream_url).map_err(|e| {
                anyhow::anyhow!(
                    "DUCKHAUL_UPSTREAM_URL '{}' is not a URL ({e}); e.g. https://fakerapi.it/api/v2 or builtin",
                    self.upstream_url
                )
            })?;
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https") && url.host().is_some(),
                "DUCKHAUL_UPSTREAM_URL '{}' must be an http(s) URL or builtin",
                self.upstream_url
            );
            UpstreamChoice::Url(self.upstream_url.trim_end_matches('/').to_string())
        };
        let to_gcs = self.destination.starts_with("gs://");
        if to_gcs {
            GcsDestination::parse(&self.destination).with_context(|| {
                format!(
                    "DUCKHAUL_DESTINATION '{}' is not a GCS destination; use gs://bucket or gs://bucket/prefix",
                    self.destination
                )
            })?;
        } else {
            anyhow::ensure!(
                !self.destination.is_empty() && !self.destination.contains("://"),
                "DUCKHAUL_DESTINATION '{}' must be a folder or gs://bucket/prefix",
                self.destination
            );
        }
        anyhow::ensure!(
            (1..=64).contains(&self.concurrency),
            "DUCKHAUL_CONCURRENCY must be from 1 to 64, got {}",
            self.concurrency
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.gcs_retry_secs),
            "DUCKHAUL_GCS_RETRY_SECS must be from 1 to 3600, got {}",
            self.gcs_retry_secs
        );
        anyhow::ensure!(
            (1..=20).contains(&self.upstream_max_attempts),
            "DUCKHAUL_UPSTREAM_MAX_ATTEMPTS must be from 1 to 20, got {}",
            self.upstream_max_attempts
        );
        anyhow::ensure!(
            (1..=1000).contains(&self.upstream_burst),
            "DUCKHAUL_UPSTREAM_BURST must be from 1 to 1000, got {}",
            self.upstream_burst
        );
        let memory_limit = parse_size(&self.memory_limit).filter(|b| *b >= 16_000_000).with_context(|| {
            format!("DUCKHAUL_MEMORY_LIMIT '{}' must be a size of 16MB or more, such as 48MB or 2GB", self.memory_limit)
        })?;
        anyhow::ensure!(
            (1..=256).contains(&self.duckdb_threads),
            "DUCKHAUL_DUCKDB_THREADS must be from 1 to 256, got {}",
            self.duckdb_threads
        );
        let export_row_group_bytes = parse_size(&self.export_row_group_size)
            .filter(|b| (1_000_000..=4_000_000_000).contains(b))
            .with_context(|| {
                format!(
                    "DUCKHAUL_EXPORT_ROW_GROUP_SIZE '{}' must be a size from 1MB to 4GB, such as 16MiB or 64MB",
                    self.export_row_group_size
                )
            })?;
        anyhow::ensure!(!self.database.as_os_str().is_empty(), "DUCKHAUL_DATABASE must name a file");
        let views_dir = self.views_dir.clone().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = &views_dir {
            anyhow::ensure!(dir.is_dir(), "DUCKHAUL_VIEWS_DIR {} is not a folder", dir.display());
        }
        let sources_dir = self.sources_dir.clone().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = &sources_dir {
            anyhow::ensure!(dir.is_dir(), "DUCKHAUL_SOURCES_DIR {} is not a folder", dir.display());
        }
        let gcs_endpoint =
            match self.gcs_endpoint.as_deref().or(self.storage_emulator_host.as_deref()).filter(|e| !e.is_empty()) {
                Some(endpoint) if to_gcs => {
                    Some(emulator_url(endpoint).context("DUCKHAUL_GCS_ENDPOINT (or STORAGE_EMULATOR_HOST)")?)
                }
                // A folder destination never uses it.
                other => other.map(str::to_string),
            };
        let upstream_rate_limit = self.upstream_rate_limit.unwrap_or(match upstream {
            UpstreamChoice::Builtin => 0,
            UpstreamChoice::Url(_) => 30,
        });
        Ok(Config {
            database: self.database.clone(),
            upstream,
            destination: self.destination.trim_end_matches('/').to_string(),
            gcs_endpoint,
            gcs_retry: std::time::Duration::from_secs(self.gcs_retry_secs),
            upstream_rate_limit,
            upstream_burst: self.upstream_burst,
            upstream_rate_shared_by: 1,
            upstream_max_attempts: self.upstream_max_attempts,
            concurrency: self.concurrency,
            memory_limit,
            duckdb_threads: self.duckdb_threads,
            export_row_group_bytes,
            http: HttpConfig::default(),
            trace_project: self.google_cloud_project.clone().filter(|p| !p.is_empty()),
            views_dir,
            sources_dir,
            resume_at_start: self.resume_at_start,
        })
    }
}

impl ServeArgs {
    /// Checks the shared settings and the HTTP ones.
    pub fn validate(&self) -> anyhow::Result<Config> {
        Ok(Config { http: self.http.validate()?, ..self.settings.validate()? })
    }

    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

/// Bytes in a size such as `48MB` or `1.5GiB`, with DuckDB's units (KB, MB, GB, TB are powers
/// of 1000; KiB, MiB, GiB, TiB of 1024), so a size means here what it means to DuckDB.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match s[digits.len()..].to_ascii_uppercase().as_str() {
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KIB" => 1024.0,
        "MIB" => 1024.0 * 1024.0,
        "GIB" => 1024.0 * 1024.0 * 1024.0,
        "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let n: f64 = digits.trim().parse().ok()?;
    let bytes = n * unit;
    (n.is_finite() && (1.0..1e15).contains(&bytes)).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    fn parse(args: &[&str]) -> anyhow::Result<Config> {
        let mut all = vec!["duckhaul"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().settings.validate()
    }

    #[test]
    fn defaults_are_embedded() {
        let c = parse(&["--upstream-url", "builtin"]).unwrap();
        assert_eq!(c.upstream, UpstreamChoice::Builtin);
        assert_eq!(c.destination, "./exports");
        assert_eq!(c.upstream_rate_limit, 0);
        let c = parse(&["--upstream-url", "https://fakerapi.it/api/v2/"]).unwrap();
        assert_eq!(c.upstream, UpstreamChoice::Url("https://fakerapi.it/api/v2".into()));
        assert_eq!(c.upstream_rate_limit, 30);
        assert_eq!((c.upstream_burst, c.upstream_rate_shared_by), (DEFAULT_UPSTREAM_BURST, 1));
    }

    #[test]
    fn the_default_config_is_the_flags_defaults() {
        let c = Config::default();
        assert_eq!(c.upstream, UpstreamChoice::Url("https://fakerapi.it/api/v2".into()));
        assert_eq!((c.destination.as_str(), c.concurrency, c.memory_limit), ("./exports", 8, 48_000_000));
        assert_eq!((c.upstream_rate_limit, c.upstream_max_attempts, c.resume_at_start), (30, 6, true));
    }

    #[test]
    fn bad_values_are_named() {
        for (args, says) in [
            (["--destination", "gs://X"], "DUCKHAUL_DESTINATION"),
            (["--upstream-url", "ftp://x"], "DUCKHAUL_UPSTREAM_URL"),
            (["--memory-limit", "lots"], "DUCKHAUL_MEMORY_LIMIT"),
            (["--concurrency", "0"], "DUCKHAUL_CONCURRENCY"),
            (["--memory-limit", "1MB"], "DUCKHAUL_MEMORY_LIMIT '1MB' must be a size of 16MB or more"),
            (["--export-row-group-size", "100KB"], "DUCKHAUL_EXPORT_ROW_GROUP_SIZE '100KB'"),
            (["--duckdb-threads", "0"], "DUCKHAUL_DUCKDB_THREADS"),
            (["--upstream-burst", "0"], "DUCKHAUL_UPSTREAM_BURST"),
            (["--sources-dir", "/nonexistent/duckhaul-sources"], "DUCKHAUL_SOURCES_DIR /nonexistent/duckhaul-sources"),
        ] {
            let e = parse(&args).unwrap_err().to_string();
            assert!(e.contains(says), "{args:?}: {e}");
        }
    }

    #[test]
    fn sizes_use_duckdbs_units() {
        assert_eq!(parse_size("48MB"), Some(48_000_000));
        assert_eq!(parse_size("1.5GiB"), Some(1_610_612_736));
        assert_eq!(parse_size(" 16mib "), Some(16 << 20));
        assert_eq!(parse_size("2 GB"), Some(2_000_000_000));
        for bad in ["", "MB", "12", "-1MB", "0MB", "0.0001KB", "1XB", "NaNMB", "infGB"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        let c = parse(&["--upstream-url", "builtin"]).unwrap();
        assert_eq!((c.memory_limit, c.duckdb_threads, c.export_row_group_bytes), (48_000_000, 1, 16 << 20));
    }

    #[test]
    fn emulator_hosts_get_a_scheme() {
        let c = parse(&["--destination", "gs://snap/x", "--storage-emulator-host", "127.0.0.5"]).unwrap();
        assert_eq!(c.gcs_endpoint.as_deref(), Some("http://127.0.0.5"));
        let e = parse(&["--destination", "gs://snap", "--gcs-endpoint", "ftp://host"]).unwrap_err();
        assert!(format!("{e:#}").contains("DUCKHAUL_GCS_ENDPOINT"), "{e:#}");
    }

    #[test]
    fn destinations_are_checked_like_the_sink_checks_them() {
        let long = format!("gs://{}.example.com/x", "a".repeat(63));
        assert_eq!(parse(&["--destination", &long]).unwrap().destination, long);
        for bad in ["gs://X", "gs://snap/a//b", "gs://ab"] {
            let e = parse(&["--destination", bad]).unwrap_err().to_string();
            assert!(e.contains("DUCKHAUL_DESTINATION"), "{bad}: {e}");
        }
    }
}
