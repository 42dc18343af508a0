//! At start: what a lost instance left in the destination comes back. One listing of the
//! log tells every table and job and how each ended; then, for each job this database does not
//! know, its `job.json` is read (and, for a job that never ended, its groups' manifests, to
//! know its durable pages). Its record, idempotency key and table are recreated here; its rows
//! stay in the destination until an export needs them (`load`).

use anyhow::Context;

use super::layout::{self, JobListing};
use super::objects::{EndObject, GroupManifest, JobObject};
use super::{Durable, read_json};
use crate::store::groups::{self, GroupRecord};
use crate::store::records::{self, JobRow};
use crate::store::source_tables::SourceTable;

/// Finished jobs at most whose records come back at start, newest first: a long history is
/// still exported (an export lists its table), it is only not listed in `/jobs`.
const FINISHED_SHOWN: usize = 500;

/// What the recovery found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Tables created here from the log.
    pub tables: usize,
    /// Job records recreated here…
    pub jobs: usize,
    /// …of which never ended (an interrupted ingest: resumed like one a crash left).
    pub interrupted: usize,
}

impl Durable {
    /// Recreates here what the log holds and this database does not.
    pub async fn recover(&self) -> anyhow::Result<Recovered> {
        let keys = self.sink().list(layout::ROOT).await.context("cannot list the destination's durable log")?;
        let listing = layout::parse(&keys);
        let known = self.store().read(|conn| Ok(records::job_ids(conn)?)).await?;
        let mut recovered = Recovered::default();
        let mut finished_left = FINISHED_SHOWN;
        for (table, jobs) in &listing {
            // Newest first (ids are UUIDv7).
            for (job_id, found) in jobs.iter().rev() {
                if known.contains(job_id) || !found.described {
                    continue;
                }
                if found.ended.is_some() {
                    if finished_left == 0 {
                        continue;
                    }
                    finished_left -= 1;
                }
                let Some(job) = read_json::<JobObject>(self.sink(), &layout::job_object(table, job_id)).await? else {
                    continue;
                };
                if self.ensure_table(&job).await? {
                    recovered.tables += 1;
                }
                let interrupted = self.recover_job(&job, found).await?;
                recovered.jobs += 1;
                recovered.interrupted += usize::from(interrupted);
            }
        }
        Ok(recovered)
    }

    /// Creates the job's table here unless it exists; `true` if it was created.
    async fn ensure_table(&self, job: &JobObject) -> anyhow::Result<bool> {
        if self.store().table_ddl(&job.table).await?.is_some() {
            return Ok(false);
        }
        let def = &job.table_def;
        match &def.source {
            Some(source) => {
                let table = SourceTable {
                    name: job.table.clone(),
                    source: source.source.clone(),
                    resource: source.resource.clone(),
                    columns: source.columns.clone(),
                };
                self.store().ensure_source_table(table, &def.ddl).await?;
            }
            None => self.store().ensure_table(&job.table, &def.resource, &def.ddl).await?,
        }
        Ok(true)
    }

    /// Recreates a job's record (and key); for one that never ended, its durable pages and
    /// where a followed walk goes next. Answers whether it never ended.
    async fn recover_job(&self, job: &JobObject, found: &JobListing) -> anyhow::Result<bool> {
        let (table, id) = (&job.table, &job.id);
        let mut row = JobRow {
            id: id.clone(),
            kind: job.kind.clone(),
            state: "interrupted".into(),
            request: job.spec.clone(),
            target_table: Some(table.clone()),
            base_seed: job.base_seed,
            pages_total: job.pages_total,
            pages_done: 0,
            rows: 0,
            error: Some("the instance that ran this job was lost; its durable pages are kept".into()),
            details: "{}".into(),
            created_at: job.created_at,
            started_at: None,
            finished_at: None,
        };
        let mut groups_found = Vec::new();
        let mut positions = Vec::new();
        match &found.ended {
            Some((state, key)) => {
                if let Some(end) = read_json::<EndObject>(self.sink(), key).await? {
                    row.state = state.clone();
                    row.error = end.error;
                    row.pages_done = end.pages_done;
                    row.rows = end.rows;
                    row.finished_at = Some(end.finished_at);
                }
            }
            None => {
                for group in &found.groups {
                    let key = layout::group_manifest(table, id, group);
                    let Some(manifest) = read_json::<GroupManifest>(self.sink(), &key).await? else { continue };
                    for page in manifest.pages.iter().filter(|p| p.followed) {
                        positions.push((page.page, page.next.clone()));
                    }
                    groups_found.push(GroupRecord {
                        group_id: manifest.group,
                        job_id: id.clone(),
                        table: table.clone(),
                        loaded: false,
                        pages: manifest.pages.iter().map(|p| (p.page, p.rows)).collect(),
                    });
                }
            }
        }
        let interrupted = found.ended.is_none();
        let key = job.idempotency.clone();
        self.store()
            .record(move |conn| {
                for group in &groups_found {
                    groups::record_group(conn, group)?;
                }
                let done = groups::done_pages(conn, &row.id)?;
                if interrupted {
                    row.pages_done = done.len() as u64;
                    row.rows = done.iter().map(|(_, rows)| rows).sum();
                }
                for (page, next) in &positions {
                    conn.execute(
                        "INSERT INTO duckhaul_page_positions (job_id, page, next_position) VALUES (?, ?, ?) \
                         ON CONFLICT DO NOTHING",
                        duckdb::params![row.id, *page as i64, next],
                    )?;
                }
                match &key {
                    Some(key) => records::save_job_with_key(conn, &row, &key.key, &key.request)?,
                    None => records::save_job(conn, &row)?,
                }
                Ok(())
            })
            .await?;
        tracing::info!(job = %id, table = %table, state = if interrupted { "interrupted" } else { "finished" }, "job recovered from the destination");
        Ok(interrupted)
    }
}
