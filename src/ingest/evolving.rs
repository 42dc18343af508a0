//! The table a described source's job fills, as its pages widen it (`catalog::evolve`).
//!
//! A page that fits the table goes to the writer as it was decoded. One that did not was taken
//! record by record (`source::described`); here, under the table's write lock, its widening is
//! made the table's (ALTER through the writer, between two group commits, with the recorded
//! columns and the history), or, when a page fetched in parallel widened the table meanwhile,
//! its body is taken again against the table as it is now. Every page is conformed to the table
//! and queued under the read lock, so none reaches the writer in an older shape than the
//! table's, whichever order parallel pages commit in. The records that fit nowhere go, in the
//! same transaction as their page, to `{table}__quarantine`.

use std::sync::Arc;

use duckdb::arrow::record_batch::RecordBatch;
use tokio::sync::{OnceCell, RwLock};

use super::IngestContext;
use super::runner::{Commit, PageError, PageLabel, PageRunner};
use super::source_plan::SourcePlan;
use crate::catalog::Schema;
use crate::catalog::evolve::{
    Contract, EvolvedPage, QuarantinedRecord, SchemaChange, changes, conform, evolve_page, quarantine_batch,
    quarantine_schema, quarantine_table,
};
use crate::jobs::TableChange;
use crate::source::{FetchError, Misfit, SourcePage};
use crate::store::NextPage;
use crate::store::evolution::TableEvolution;
use crate::store::schema::{evolve_ddl, table_ddl};
use crate::store::source_tables::{self, SourceTable};

/// The table as the job knows it now.
struct TableShape {
    /// Its record columns, those that have held only nulls marked (`Fake::Null`) when it evolves.
    schema: Arc<Schema>,
    /// How many of them come before the lineage columns (those added later come after).
    lineage_at: usize,
}

/// A source job's table: absent until the first page with records creates it.
pub(super) struct EvolvingTable {
    shape: RwLock<Option<TableShape>>,
    /// Set once `{table}__quarantine` is there.
    quarantine: OnceCell<()>,
}

impl EvolvingTable {
    /// The table as recorded, if an earlier job created it.
    pub async fn load(ctx: &IngestContext, plan: &SourcePlan) -> anyhow::Result<EvolvingTable> {
        let shape = match ctx.store.source_table(&plan.table).await? {
            None => None,
            Some(recorded) => {
                let mut schema = recorded.schema()?;
                let layout = ctx.store.source_table_layout(recorded).await?;
                for field in &mut schema.fields {
                    let declared = plan.declared.iter().any(|d| d.name == field.name);
                    if !declared && layout.null_columns.contains(&field.name) {
                        field.fake = crate::catalog::Fake::Null;
                    }
                }
                let schema = plan.contract().shaped(schema);
                Some(TableShape { schema: Arc::new(schema), lineage_at: layout.lineage_at })
            }
        };
        Ok(EvolvingTable { shape: RwLock::new(shape), quarantine: OnceCell::new() })
    }

    pub async fn is_empty(&self) -> bool {
        self.shape.read().await.is_none()
    }

    /// The table's schema now, which a page is fetched against.
    pub async fn schema(&self) -> Option<Arc<Schema>> {
        self.shape.read().await.as_ref().map(|shape| shape.schema.clone())
    }

    /// Creates the table from its first page's schema (recorded with it).
    pub async fn create(&self, ctx: &IngestContext, plan: &SourcePlan, inferred: &Schema) -> anyhow::Result<()> {
        let schema = plan.contract().shaped(inferred.clone());
        let target = plan.target.as_ref();
        let recorded = SourceTable::new(&plan.table, &target.source().name, &target.resource().name, &schema);
        ctx.store.ensure_source_table(recorded, &table_ddl(&plan.table, &schema)).await?;
        let lineage_at = schema.fields.len();
        *self.shape.write().await = Some(TableShape { schema: Arc::new(schema), lineage_at });
        Ok(())
    }

    /// Takes page `label` to the writer: its widening made the table's, cut to the `cap` records
    /// the job still takes, conformed to the table, queued with its quarantined records.
    pub async fn land(
        &self,
        runner: &PageRunner<'_>,
        plan: &SourcePlan,
        label: PageLabel,
        page: SourcePage,
        cap: u64,
        next: Option<NextPage>,
    ) -> Result<Commit, PageError> {
        let failed = |error: String| PageError::Failed(label.failure(error));
        let (batch, quarantined) = match page.misfit {
            None => (page.batch, Vec::new()),
            Some(misfit) => self.evolve(runner, plan, label.page, misfit).await.map_err(|e| match e {
                FetchError::Cancelled => PageError::Cancelled,
                e => failed(e.to_string()),
            })?,
        };
        let (batch, quarantined) = cut(batch, quarantined, cap).map_err(|e| failed(format!("{e:#}")))?;
        let side = match quarantined.is_empty() {
            true => Vec::new(),
            false => {
                self.ensure_quarantine(runner.ctx, plan).await.map_err(|e| failed(format!("{e:#}")))?;
                runner.job.progress.quarantined(quarantined.len() as u64);
                runner.ctx.store.metrics().rows_quarantined(&plan.table, quarantined.len() as u64);
                vec![(Arc::from(quarantine_table(&plan.table)), quarantine_batch(&quarantined))]
            }
        };
        let shape = self.shape.read().await;
        let shape = shape.as_ref().expect("a page is landed once its table is there");
        let batch = conform(batch, &shape.schema, shape.lineage_at)
            .map_err(|e| failed(format!("the page does not convert to the table's columns: {e}")))?;
        runner.queue_with(label, batch, next, side).await
    }

    /// Makes a misfit page's widening the table's; answers its records that load and those
    /// quarantined.
    async fn evolve(
        &self,
        runner: &PageRunner<'_>,
        plan: &SourcePlan,
        page: u32,
        misfit: Misfit,
    ) -> Result<(RecordBatch, Vec<QuarantinedRecord>), FetchError> {
        // What this page needed of the table it was fetched against: another page, fetched in
        // parallel, may have made the change first.
        let needed = changes(&misfit.base, &misfit.evolved.schema);
        runner.job.progress.schema_changed(needed.into_iter().map(|c| table_change(page, c)));
        let mut guard = self.shape.write().await;
        let shape = guard.as_mut().expect("a page is landed once its table is there");
        let current = shape.schema.clone();
        let evolved: EvolvedPage = if misfit.base == *current {
            misfit.evolved
        } else {
            evolve_page(&current, &plan.declared, &misfit.body, plan.target.records(), plan.contract())
                .map_err(|e| FetchError::Shape(e.to_string()))?
        };
        if evolved.schema != *current {
            let changes = changes(&current, &evolved.schema);
            let target = plan.target.as_ref();
            let evolution = TableEvolution {
                table: SourceTable::new(&plan.table, &target.source().name, &target.resource().name, &evolved.schema),
                statements: evolve_ddl(&plan.table, &current, &evolved.schema),
                job_id: runner.job.id.clone(),
                page,
                changes: changes.clone(),
            };
            runner
                .ctx
                .store
                .evolve_source_table(evolution)
                .await
                .map_err(|e| FetchError::Shape(format!("cannot widen table {}: {e:#}", plan.table)))?;
            tracing::info!(table = plan.table, page, changes = ?changes, "table widened");
            runner.ctx.store.metrics().schema_changes(&plan.table, changes.len() as u64);
            runner.job.progress.schema_changed(changes.into_iter().map(|c| table_change(page, c)));
            shape.schema = Arc::new(evolved.schema);
        }
        if evolved.discarded_values > 0 {
            runner.job.progress.discarded_values(evolved.discarded_values);
        }
        Ok((evolved.batch, evolved.quarantined))
    }

    async fn ensure_quarantine(&self, ctx: &IngestContext, plan: &SourcePlan) -> anyhow::Result<()> {
        self.quarantine
            .get_or_try_init(|| async {
                let name = quarantine_table(&plan.table);
                let label = source_tables::label(&plan.target.source().name, &plan.target.resource().name);
                let ddl = table_ddl(&name, &quarantine_schema());
                ctx.store.ensure_table(&name, &format!("{label} quarantine"), &ddl).await
            })
            .await
            .map(|_| ())
    }
}

/// A change as the job reports it.
pub(super) fn table_change(page: u32, change: SchemaChange) -> TableChange {
    TableChange { page, column: change.column, change: change.change, from: change.from, to: change.to }
}

impl SourcePlan {
    pub(super) fn contract(&self) -> Contract {
        self.target.resource().contract
    }
}

/// A page's records cut to the first `cap` of them: its loaded rows and quarantined records
/// are in page order, so a loaded row's place among the records is its rank among the loaded
/// ones plus the quarantined before it.
fn cut(
    batch: RecordBatch,
    mut quarantined: Vec<QuarantinedRecord>,
    cap: u64,
) -> anyhow::Result<(RecordBatch, Vec<QuarantinedRecord>)> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    if batch.num_rows().saturating_add(quarantined.len()) <= cap {
        return Ok((batch, quarantined));
    }
    quarantined.retain(|q| q.index < cap);
    let rows = cap - quarantined.len();
    // A compact copy: the appender is given whole arrays, not slices of them.
    let slice = batch.slice(0, rows.min(batch.num_rows()));
    let batch = duckdb::arrow::compute::concat_batches(&slice.schema(), [&slice])?;
    Ok((batch, quarantined))
}
