//! Prometheus metrics: one registry per application (never the crate's global one, so two
//! apps in one process, as in the tests, count apart), rendered by `GET /metrics`.
//!
//! Each layer counts what it alone knows: `source` the upstream requests, the store's writer
//! the rows, pages and commits, `export` the objects, `jobs` the job states. They call the
//! small domain-named methods below, never the Prometheus types.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upstream requests: 1 ms to 60 s (the attempt timeout).
const REQUEST_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Writer commits: sub-millisecond to several seconds.
const COMMIT_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Whole table exports: tenths of a second to many minutes.
const EXPORT_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0];

/// Cheap to clone: every clone counts into the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    upstream_requests: IntCounterVec,
    upstream_throttled: IntCounterVec,
    upstream_retries: IntCounterVec,
    upstream_pace: GaugeVec,
    upstream_duration: HistogramVec,
    rows_written: IntCounterVec,
    pages_written: IntCounterVec,
    schema_changes: IntCounterVec,
    rows_quarantined: IntCounterVec,
    commit_duration: HistogramVec,
    export_rows: IntCounterVec,
    export_bytes: IntCounterVec,
    export_duration: HistogramVec,
    exports: IntCounterVec,
    jobs: IntGaugeVec,
    jobs_finished: IntCounterVec,
    database_ready: prometheus::IntGauge,
    database_reopens: prometheus::IntCounter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
            registry.register(Box::new(c.clone())).expect("metric names are unique");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)
                .expect("a valid metric");
            registry.register(Box::new(h.clone())).expect("metric names are unique");
            h
        };
        let upstream_pace = GaugeVec::new(
            Opts::new(
                "duckhaul_upstream_pace_requests_per_minute",
                "Requests per minute each upstream path is paced at now: the configured rate, less after 429s (absent when unlimited)",
            ),
            &["resource"],
        )
        .expect("a valid metric");
        registry.register(Box::new(upstream_pace.clone())).expect("metric names are unique");
        let jobs = IntGaugeVec::new(
            Opts::new("duckhaul_jobs", "Jobs of this process now queued or running, by kind and state"),
            &["kind", "state"],
        )
        .expect("a valid metric");
        registry.register(Box::new(jobs.clone())).expect("metric names are unique");
        // Shown as 0 from the start, so a dashboard sees the series before the first job.
        for kind in ["ingest", "export"] {
            for state in ["queued", "running"] {
                jobs.with_label_values(&[kind, state]).set(0);
            }
        }
        let database_ready = prometheus::IntGauge::new(
            "duckhaul_database_ready",
            "1 while the database is open and usable, 0 while it is being reopened",
        )
        .expect("a valid metric");
        registry.register(Box::new(database_ready.clone())).expect("metric names are unique");
        database_ready.set(1);
        let database_reopens = prometheus::IntCounter::new(
            "duckhaul_database_reopens_total",
            "Times DuckDB invalidated the database and it was reopened",
        )
        .expect("a valid metric");
        registry.register(Box::new(database_reopens.clone())).expect("metric names are unique");
        let inner = Inner {
            database_ready,
            database_reopens,
            upstream_requests: counter(
                "duckhaul_upstream_requests_total",
                "Requests to the upstream API by resource and HTTP status (or timeout, connect, transport)",
                &["resource", "status"],
            ),
            schema_changes: counter(
                "duckhaul_schema_changes_total",
                "Columns (or STRUCT members) a source's table added or widened as its API changed, by table",
                &["table"],
            ),
            rows_quarantined: counter(
                "duckhaul_rows_quarantined_total",
                "Records of a source that fit no widening of their table, stored in its __quarantine table, by table",
                &["table"],
            ),
            upstream_throttled: counter(
                "duckhaul_upstream_throttled_total",
                "Upstream answers 429 Too Many Requests, by resource",
                &["resource"],
            ),
            upstream_retries: counter(
                "duckhaul_upstream_retries_total",
                "Upstream requests retried after a transient fault, by resource",
                &["resource"],
            ),
            upstream_pace,
            upstream_duration: histogram(
                "duckhaul_upstream_request_duration_seconds",
                "Time of one upstream request, body included, by resource",
                &["resource"],
                REQUEST_BUCKETS,
            ),
            rows_written: counter("duckhaul_rows_written_total", "Rows committed to DuckDB, by table", &["table"]),
            pages_written: counter("duckhaul_pages_written_total", "Pages committed to DuckDB, by table", &["table"]),
            commit_duration: histogram(
                "duckhaul_commit_duration_seconds",
                "Time of one writer transaction (a group of pages), by outcome",
                &["result"],
                COMMIT_BUCKETS,
            ),
            export_rows: counter("duckhaul_export_rows_total", "Rows exported, by table", &["table"]),
            export_bytes: counter("duckhaul_export_bytes_total", "Parquet bytes exported, by table", &["table"]),
            export_duration: histogram(
                "duckhaul_export_duration_seconds",
                "Time to export one table (snapshot, upload, manifest), by table and outcome",
                &["table", "result"],
                EXPORT_BUCKETS,
            ),
            exports: counter("duckhaul_exports_total", "Table exports, by table and outcome", &["table", "result"]),
            jobs_finished: counter(
                "duckhaul_jobs_finished_total",
                "Jobs finished by this process, by kind and final state",
                &["kind", "state"],
            ),
            jobs,
            registry,
        };
        Metrics { inner: Arc::new(inner) }
    }

    /// One upstream request and how it ended: an HTTP status, or `timeout`, `connect`, `transport`.
    pub fn upstream_request(&self, resource: &str, status: &str, elapsed: Duration) {
        let m = &self.inner;
        m.upstream_requests.with_label_values(&[resource, status]).inc();
        m.upstream_duration.with_label_values(&[resource]).observe(elapsed.as_secs_f64());
        if status == "429" {
            m.upstream_throttled.with_label_values(&[resource]).inc();
        }
    }

    /// The pace `resource`'s path is held to now, in requests per minute (`None`: unlimited).
    pub fn upstream_pace(&self, resource: &str, per_minute: Option<f64>) {
        match per_minute {
            Some(pace) => self.inner.upstream_pace.with_label_values(&[resource]).set(pace),
            None => {
                let _ = self.inner.upstream_pace.remove_label_values(&[resource]);
            }
        }
    }

    pub fn upstream_retry(&self, resource: &str) {
        self.inner.upstream_retries.with_label_values(&[resource]).inc();
    }

    /// One page committed to `table`.
    pub fn page_written(&self, table: &str, rows: usize) {
        self.inner.pages_written.with_label_values(&[table]).inc();
        self.inner.rows_written.with_label_values(&[table]).inc_by(rows as u64);
    }

    /// `changes` columns of `table` added or widened.
    pub fn schema_changes(&self, table: &str, changes: u64) {
        self.inner.schema_changes.with_label_values(&[table]).inc_by(changes);
    }

    /// `rows` records of `table` quarantined.
    pub fn rows_quarantined(&self, table: &str, rows: u64) {
        self.inner.rows_quarantined.with_label_values(&[table]).inc_by(rows);
    }

    pub fn commit(&self, ok: bool, elapsed: Duration) {
        self.inner.commit_duration.with_label_values(&[outcome(ok)]).observe(elapsed.as_secs_f64());
    }

    pub fn table_exported(&self, table: &str, rows: u64, bytes: u64, elapsed: Duration) {
        let m = &self.inner;
        m.export_rows.with_label_values(&[table]).inc_by(rows);
        m.export_bytes.with_label_values(&[table]).inc_by(bytes);
        m.export_duration.with_label_values(&[table, "ok"]).observe(elapsed.as_secs_f64());
        m.exports.with_label_values(&[table, "ok"]).inc();
    }

    pub fn table_export_failed(&self, table: &str, elapsed: Duration) {
        let m = &self.inner;
        m.export_duration.with_label_values(&[table, "failed"]).observe(elapsed.as_secs_f64());
        m.exports.with_label_values(&[table, "failed"]).inc();
    }

    /// A job moved from `from` (`None`: it is new) to `to`; states are their API names.
    pub fn job_state(&self, kind: &str, from: Option<&str>, to: &str, finished: bool) {
        let m = &self.inner;
        if let Some(from) = from {
            m.jobs.with_label_values(&[kind, from]).dec();
        }
        if finished {
            m.jobs_finished.with_label_values(&[kind, to]).inc();
        } else {
            m.jobs.with_label_values(&[kind, to]).inc();
        }
    }

    /// DuckDB invalidated the database; it is being reopened.
    pub fn database_reopening(&self) {
        self.inner.database_ready.set(0);
    }

    pub fn database_reopened(&self) {
        self.inner.database_ready.set(1);
        self.inner.database_reopens.inc();
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.inner.registry.gather(), &mut out)
            .expect("encoding metrics into memory cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

fn outcome(ok: bool) -> &'static str {
    if ok { "ok" } else { "failed" }
}
