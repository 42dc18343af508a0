//! `GET /status`: what the service holds and is doing.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::ApiError;
use crate::jobs::JobView;
use crate::store::{StoreHealth, TableStats};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(status))
}

/// The service's state.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "version": "0.1.0", "upstream_url": "https://fakerapi.it/api/v2", "destination": "gs://my-bucket/duckhaul",
    "database": "./data/duckhaul.duckdb", "database_health": {"state": "ready"},
    "tables": [{"name": "users", "resource": "users", "rows": 5000}],
    "running_jobs": [], "recent_jobs": [],
    "last_exports": [{"table": "users", "export_id": "019ac4f3-0b2a-7c11-8e4d-5a6b7c8d9e0f", "mode": "snapshot",
        "uri": "gs://my-bucket/duckhaul/users/dt=2026-11-27/019ac4f3-0b2a-7c11-8e4d-5a6b7c8d9e0f.parquet",
        "rows": 5000, "bytes": 341822, "crc32c": 2166136261u32, "created_at": "2026-11-27T03:05:00Z"}]
}))]
pub struct Status {
    pub version: String,
    pub upstream_url: String,
    /// Export destination: a folder or `gs://bucket/prefix`.
    pub destination: String,
    pub database: String,
    /// Whether the database is usable; while it is reopened after a fatal DuckDB error, the
    /// tables, recent jobs and exports are left empty (running jobs are still shown).
    pub database_health: StoreHealth,
    /// Every data table with its row count.
    pub tables: Vec<TableStats>,
    pub running_jobs: Vec<JobView>,
    /// The 20 most recent jobs, newest first.
    pub recent_jobs: Vec<JobView>,
    /// The last successful export of each table.
    pub last_exports: Vec<LastExport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LastExport {
    pub table: String,
    pub export_id: String,
    pub mode: String,
    pub uri: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    /// CRC32C of the object (as GCS computes it), as an unsigned integer.
    #[schema(format = Int64, maximum = 4294967295u32)] // a u32 passes 2^31: int32 clients would overflow
    pub crc32c: Option<u32>,
    pub created_at: DateTime<Utc>,
}

/// Tables and row counts, running and recent jobs, and the last export of each table.
#[utoipa::path(get, path = "/status", tag = "service",
    responses((status = 200, description = "The service's state", body = Status)))]
async fn status(State(state): State<AppState>) -> Result<axum::Json<Status>, ApiError> {
    let database_health = state.store.health();
    let running_jobs = state.jobs.running();
    let (tables, recent_jobs, last_exports) = if database_health.is_ready() {
        (state.store.tables().await?, state.jobs.recent(20).await?, state.store.last_exports().await?)
    } else {
        // Still answer: the status page must be able to say why nothing else can.
        (Vec::new(), Vec::new(), Vec::new())
    };
    Ok(axum::Json(Status {
        version: env!("CARGO_PKG_VERSION").into(),
        upstream_url: state.info.upstream_url.clone(),
        destination: state.info.destination.clone(),
        database: state.info.database.clone(),
        database_health,
        tables,
        running_jobs,
        recent_jobs,
        last_exports: last_exports
            .into_iter()
            .map(|e| LastExport {
                table: e.table_name,
                export_id: e.export_id,
                mode: e.mode.as_str().into(),
                uri: e.uri,
                rows: e.rows,
                bytes: e.bytes,
                crc32c: e.crc32c,
                created_at: e.created_at,
            })
            .collect(),
    }))
}
