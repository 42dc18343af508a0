//! `spawn_app()`: a real duckhaul on a loopback port with a fresh DuckDB file, fed by the
//! bundled Faker-compatible server on another loopback port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use duckhaul::app::Application;
use duckhaul::config::{Config, UpstreamChoice};
use duckhaul::store::Store;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

static TRACING: Once = Once::new();

/// Logs only when TEST_LOG is set, so test output stays readable.
fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            duckhaul::telemetry::init("info,duckhaul=debug", false);
        }
    });
}

/// Starts the bundled Faker server on a free loopback port; returns its v2 base URL.
pub async fn spawn_upstream(options: duckhaul::fake_api::FakeApiOptions) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move { duckhaul::fake_api::serve(listener, options, token).await.unwrap() });
    (format!("http://{addr}/api/v2"), stop)
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    store: Option<Store>,
    pub config: Config,
    pub upstream_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    upstream_stop: CancellationToken,
}

/// What a test may change about the app.
pub struct AppOptions {
    /// `None`: the local folder `exports/` inside the test's temp dir.
    pub destination: Option<String>,
    pub gcs_endpoint: Option<String>,
    pub faults: duckhaul::fake_api::FakeApiOptions,
    pub max_attempts: u32,
    pub gcs_retry: std::time::Duration,
    /// Requests per minute per upstream path (0: unlimited).
    pub rate_limit: u32,
    /// Requests at once to an idle upstream path.
    pub burst: u32,
    /// Appended to the upstream's base URL (e.g. to point at a path that does not exist).
    pub upstream_suffix: &'static str,
    /// Body limit, timeouts, job cap, bearer tokens.
    pub http: duckhaul::config::HttpConfig,
    /// `None`: `data/duckhaul.duckdb` inside the test's temp dir.
    pub database: Option<PathBuf>,
    /// `DUCKHAUL_SOURCES_DIR`.
    pub sources_dir: Option<PathBuf>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            destination: None,
            gcs_endpoint: None,
            faults: duckhaul::fake_api::FakeApiOptions::default(),
            max_attempts: 6,
            gcs_retry: std::time::Duration::from_secs(120),
            rate_limit: 0,
            burst: duckhaul::config::DEFAULT_UPSTREAM_BURST,
            upstream_suffix: "",
            http: duckhaul::config::HttpConfig::default(),
            database: None,
            sources_dir: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let (upstream_url, upstream_stop) = spawn_upstream(options.faults).await;
    let upstream_url = format!("{upstream_url}{}", options.upstream_suffix);
    // The defaults, but for what a test controls: a new setting needs no change here.
    let config = Config {
        database: options.database.unwrap_or_else(|| dir.path().join("data/duckhaul.duckdb")),
        upstream: UpstreamChoice::Url(upstream_url.clone()),
        destination: options.destination.unwrap_or_else(|| dir.path().join("exports").display().to_string()),
        gcs_endpoint: options.gcs_endpoint,
        gcs_retry: options.gcs_retry,
        upstream_rate_limit: options.rate_limit,
        upstream_burst: options.burst,
        upstream_max_attempts: options.max_attempts,
        http: options.http,
        sources_dir: options.sources_dir,
        ..Config::default()
    };
    start(dir, config, upstream_url, upstream_stop).await
}

async fn start(
    dir: tempfile::TempDir,
    config: Config,
    upstream_url: String,
    upstream_stop: CancellationToken,
) -> TestApp {
    let app = Application::build(&config, "127.0.0.1:0".parse().unwrap()).await.expect("the app starts");
    let addr = app.local_addr();
    let store = app.state().store.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(300)).build().unwrap();
    TestApp {
        addr,
        client,
        dir,
        store: Some(store),
        config,
        upstream_url,
        stop: Some(stop),
        server: Some(server),
        upstream_stop,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("the app is running")
    }

    pub fn exports_dir(&self) -> PathBuf {
        self.dir.path().join("exports")
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POST /ingest?wait=true; asserts 200 and returns the finished job.
    pub async fn ingest(&self, body: Value) -> Value {
        let response = self.post("/ingest?wait=true", &body).await;
        assert_eq!(response.status(), 200, "ingest {body}");
        response.json().await.unwrap()
    }

    /// POST /export?wait=true; asserts 200 and returns the finished job.
    pub async fn export(&self, body: Value) -> Value {
        let response = self.post("/export?wait=true", &body).await;
        assert_eq!(response.status(), 200, "export {body}");
        response.json().await.unwrap()
    }

    pub async fn status(&self) -> Value {
        let response = self.get("/status").await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Runs a query through the app's own database handle; returns rows as JSON values.
    pub async fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        self.try_query(sql).await.unwrap()
    }

    /// `query`, for statements expected to fail.
    pub async fn try_query(&self, sql: &str) -> anyhow::Result<Vec<Vec<Value>>> {
        let sql = sql.to_string();
        self.store()
            .read(move |conn| {
                let mut stmt = conn.prepare(&sql)?;
                let mut rows = stmt.query([])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let n = row.as_ref().column_count();
                    out.push((0..n).map(|i| to_json(row.get::<_, duckdb::types::Value>(i).unwrap())).collect());
                }
                Ok(out)
            })
            .await
    }

    /// A metric's value from `/metrics` (an unlabelled one, or the first line of `name`).
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    /// What the bundled upstream answered so far (its `/__fake/stats`).
    pub async fn upstream_stats(&self) -> Value {
        let url = self.upstream_url.replace("/api/v2", "/__fake/stats");
        self.client.get(url).send().await.unwrap().json().await.unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) FROM {table}")).await[0][0].as_i64().unwrap()
    }

    /// Stops the app gracefully and starts it again on the same database file.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown().await;
        self.store.take();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let config = self.config.clone();
        let upstream_url = self.upstream_url.clone();
        // The upstream outlives this app: hand its token over so dropping `self` keeps it up.
        let upstream_stop = std::mem::replace(&mut self.upstream_stop, CancellationToken::new());
        start(dir, config, upstream_url, upstream_stop).await
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Waits for the server to stop by itself (no shutdown asked) and returns how it ended.
    pub async fn stopped(&mut self, within: Duration) -> anyhow::Result<()> {
        let server = self.server.take().expect("the server runs");
        tokio::time::timeout(within, server).await.expect("the server stops by itself").unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.upstream_stop.cancel();
    }
}

/// Reads a Parquet file with DuckDB (in memory): (row count, column name → type).
pub fn read_parquet(path: &str) -> (i64, Vec<(String, String)>) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let escaped = path.replace('\'', "''");
    let rows: i64 =
        conn.query_row(&format!("SELECT count(*) FROM read_parquet('{escaped}')"), [], |r| r.get(0)).unwrap();
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM read_parquet('{escaped}')")).unwrap();
    let columns = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (rows, columns)
}

pub fn column_type<'a>(columns: &'a [(String, String)], name: &str) -> &'a str {
    &columns.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no column {name} in {columns:?}")).1
}

pub fn users(quantity: i64, seed: i64) -> Value {
    json!({"resource": "users", "quantity": quantity, "seed": seed})
}

/// DuckDB values as JSON, for assertions (the json extension is not built in).
fn to_json(v: duckdb::types::Value) -> Value {
    use duckdb::types::Value as V;
    match v {
        V::Null => Value::Null,
        V::Boolean(b) => json!(b),
        V::TinyInt(i) => json!(i),
        V::SmallInt(i) => json!(i),
        V::Int(i) => json!(i),
        V::BigInt(i) => json!(i),
        V::HugeInt(i) => json!(i as i64),
        V::UTinyInt(i) => json!(i),
        V::USmallInt(i) => json!(i),
        V::UInt(i) => json!(i),
        V::UBigInt(i) => json!(i),
        V::Float(f) => json!(f),
        V::Double(f) => json!(f),
        V::Text(s) => json!(s),
        V::List(items) | V::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        other => json!(format!("{other:?}")),
    }
}
