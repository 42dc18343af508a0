//! Shipping committed pages to the destination, in groups: the rows of a job's pending pages
//! as one Parquet file, then the group's manifest (pages, rows, where a followed walk goes
//! next), both create-only; then the group's record here. A page is durable once its group's
//! manifest is written. A shipment that fails leaves its pages pending for the next one (an
//! object it wrote without its manifest is ignored by every reader).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;

use super::objects::{GroupManifest, GroupPage, JobObject, KeyObject, SourceDef, TableDef};
use super::{Durable, layout, write_json};
use crate::destination::file_crc32c;
use crate::store::groups::{self, GroupRecord, PendingPage};
use crate::store::{GroupFile, records, source_tables};

/// Rows of pending pages at which a running job ships a group. Few objects (a request each,
/// and a listing entry for a fresh instance to read), but small enough that the group left
/// when the last page commits, shipped before the job may say it succeeded, costs little:
/// measured on users, writing a group costs ~1.3 CPU-ms per 1,000 rows.
pub const GROUP_ROWS: u64 = 10_000;

/// How long a running job's committed pages wait at most before they are shipped, however
/// few: what a lost instance can cost a slow job in pages fetched again.
pub const SHIP_EVERY: Duration = Duration::from_secs(10);

impl Durable {
    /// Ships every pending page of job `job_id`; answers how many pages it shipped.
    pub async fn ship_job(&self, job_id: &str) -> anyhow::Result<usize> {
        self.ship_pending(Some(job_id.to_string()), None).await
    }

    /// Ships every pending page of every job of `table` (before an export takes them).
    pub async fn ship_table(&self, table: &str) -> anyhow::Result<usize> {
        self.ship_pending(None, Some(table.to_string())).await
    }

    async fn ship_pending(&self, job: Option<String>, table: Option<String>) -> anyhow::Result<usize> {
        let _one_at_a_time = self.inner.shipping.lock().await;
        let pending =
            self.store().read(move |conn| Ok(groups::pending_pages(conn, job.as_deref(), table.as_deref())?)).await?;
        let mut by_job: BTreeMap<(String, String), Vec<PendingPage>> = BTreeMap::new();
        for page in pending {
            by_job.entry((page.job_id.clone(), page.table.clone())).or_default().push(page);
        }
        let mut shipped = 0;
        for ((job_id, table), pages) in by_job {
            self.describe(&job_id, &table).await?;
            shipped += pages.len();
            self.ship_group(&job_id, &table, pages).await?;
        }
        Ok(shipped)
    }

    /// Ships one group of a job's pages.
    async fn ship_group(&self, job_id: &str, table: &str, pages: Vec<PendingPage>) -> anyhow::Result<()> {
        let group = uuid::Uuid::now_v7().to_string();
        let file = self.staged(&format!("group-{group}.parquet"))?;
        let numbers: Vec<u32> = pages.iter().map(|p| p.page).collect();
        let expected: u64 = pages.iter().map(|p| p.rows).sum();
        let group_file =
            GroupFile { table: table.to_string(), job_id: job_id.to_string(), pages: numbers, out: file.0.clone() };
        let written = self.store().writer()?.write_group(group_file).await?;
        anyhow::ensure!(
            written == expected,
            "pages of job {job_id} hold {written} rows in {table}, where their marks say {expected}"
        );
        let path = file.0.clone();
        let (bytes, crc32c) = tokio::task::spawn_blocking(move || file_crc32c(&path)).await??;
        let data = layout::group_data(table, job_id, &group);
        self.sink()
            .put_file(&data, &file.0, crc32c, "application/vnd.apache.parquet")
            .await
            .with_context(|| format!("cannot ship {} pages of job {job_id}", pages.len()))?;
        let manifest = GroupManifest {
            group: group.clone(),
            job_id: job_id.to_string(),
            table: table.to_string(),
            rows: expected,
            bytes,
            crc32c,
            pages: pages
                .iter()
                .map(|p| GroupPage {
                    page: p.page,
                    rows: p.rows,
                    followed: p.next.is_some(),
                    next: p.next.clone().flatten(),
                })
                .collect(),
            created_at: Utc::now(),
        };
        write_json(self.sink(), &layout::group_manifest(table, job_id, &group), &manifest)
            .await
            .with_context(|| format!("cannot ship the manifest of {} pages of job {job_id}", pages.len()))?;
        let record = GroupRecord {
            group_id: group,
            job_id: job_id.to_string(),
            table: table.to_string(),
            loaded: true,
            pages: pages.iter().map(|p| (p.page, p.rows)).collect(),
        };
        self.store().record(move |conn| Ok(groups::record_group(conn, &record)?)).await?;
        tracing::debug!(job = job_id, table, pages = pages.len(), rows = expected, bytes, "pages shipped");
        Ok(())
    }

    /// Writes the job's `job.json` (see `describe`), its table read from its record.
    pub async fn describe_job(&self, job_id: &str) -> anyhow::Result<()> {
        let id = job_id.to_string();
        let table = self
            .store()
            .read(move |conn| Ok(records::get_job(conn, &id)?.and_then(|row| row.target_table)))
            .await?
            .with_context(|| format!("job {job_id} has no table"))?;
        self.describe(job_id, &table).await
    }

    /// Writes the job's `job.json` unless this process saw it written (an earlier run, or a
    /// lost instance, may have written it: create-only, and the same content).
    pub(super) async fn describe(&self, job_id: &str, table: &str) -> anyhow::Result<()> {
        if self.inner.described.lock().expect("lock poisoned").contains(job_id) {
            return Ok(());
        }
        let (id, t) = (job_id.to_string(), table.to_string());
        let object = self
            .store()
            .read(move |conn| {
                let row = records::get_job(conn, &id)?.with_context(|| format!("no record of job {id}"))?;
                let key = records::key_of_job(conn, &id)?;
                let (resource, ddl): (String, String) = conn
                    .query_row("SELECT resource, ddl FROM duckhaul_tables WHERE name = ?", [&t], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .with_context(|| format!("no table {t}"))?;
                let source = source_tables::get(conn, &t)?.map(|s| SourceDef {
                    source: s.source,
                    resource: s.resource,
                    columns: s.columns,
                });
                Ok(JobObject {
                    id: row.id,
                    kind: row.kind,
                    spec: row.request,
                    table: t,
                    base_seed: row.base_seed,
                    pages_total: row.pages_total,
                    created_at: row.created_at,
                    idempotency: key.map(|(key, request)| KeyObject { key, request }),
                    table_def: TableDef { resource, ddl, source },
                })
            })
            .await?;
        write_json(self.sink(), &layout::job_object(table, job_id), &object)
            .await
            .with_context(|| format!("cannot record job {job_id} in the destination"))?;
        self.inner.described.lock().expect("lock poisoned").insert(job_id.to_string());
        Ok(())
    }
}
