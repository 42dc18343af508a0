//! The writer's thread: it takes every page waiting in the queue and commits them in one
//! transaction with their `duckhaul_pages` marks (and a followed page's next position), one
//! appender per table; ensures tables; and answers every op with a `StoreError` once DuckDB
//! invalidated the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use duckdb::Connection;
use duckdb::arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;

use super::checkpoint::{LINEAGE_COLUMNS, leaf_columns};
use super::{Committed, NextPage, Op, Queued, WriterOptions};
use crate::catalog::evolve::LINEAGE_AT;
use crate::metrics::Metrics;
use crate::store::error::StoreError;
use crate::store::transaction::in_transaction;
use crate::store::{evolution, tables};

pub(super) struct WriterLoop {
    pub(super) conn: Connection,
    next_seq: i64,
    rx: mpsc::Receiver<Op>,
    pub(super) options: WriterOptions,
    /// Set once DuckDB invalidated the database (or it is closing): every later op fails with
    /// it, untried.
    pub(super) dead: Option<StoreError>,
    /// Leaf columns of the widest table committed to since the last checkpoint.
    pub(super) dirty_leaves: usize,
}

impl WriterLoop {
    pub(super) fn new(conn: Connection, next_seq: i64, rx: mpsc::Receiver<Op>, options: WriterOptions) -> WriterLoop {
        WriterLoop { conn, next_seq, rx, options, dead: None, dirty_leaves: 0 }
    }

    pub(super) fn run(mut self) {
        let mut group: Vec<Queued> = Vec::new();
        let mut stopping = false;
        while let Some(op) = self.rx.blocking_recv() {
            let mut pending = Some(op);
            // Take everything already waiting: pages join one commit; any other op first
            // flushes the pages queued ahead of it, so order is kept.
            loop {
                match pending.take() {
                    Some(Op::Page(p)) => group.push(p),
                    Some(Op::Stop) => {
                        stopping = true;
                        self.rx.close();
                    }
                    Some(other) => {
                        self.commit_group(std::mem::take(&mut group));
                        self.handle(other);
                    }
                    None => break,
                }
                pending = self.rx.try_recv().ok();
            }
            self.commit_group(std::mem::take(&mut group));
            if stopping {
                self.dead.get_or_insert_with(|| StoreError::Closed("the database is closing".into()));
            }
        }
        tracing::debug!("writer stopped");
    }

    fn handle(&mut self, op: Op) {
        match op {
            Op::Page(_) | Op::Stop => unreachable!("pages are grouped by run, stop ends the run"),
            Op::EnsureTable { name, resource, ddl, source, reply } => {
                let result = match &self.dead {
                    Some(reason) => Err(reason.clone()),
                    None => tables::ensure(&self.conn, &self.options.rows, &name, &resource, &ddl, source.as_ref())
                        .map_err(|e| self.failed(&e)),
                };
                let _ = reply.send(result);
            }
            Op::Checkpoint { reply } => {
                let _ = reply.send(self.checkpoint());
            }
            Op::Load { load, reply } => {
                let _ = reply.send(self.load_group(&load));
            }
            Op::EvolveTable { evolution, reply } => {
                let result = match &self.dead {
                    Some(reason) => Err(reason.clone()),
                    None => evolution::apply(&self.conn, &evolution).map_err(|e| self.failed(&e)),
                };
                let _ = reply.send(result);
            }
            Op::WriteGroup { file, reply } => {
                let _ = reply.send(self.write_group(&file));
            }
        }
    }

    /// Classifies a DuckDB error, as callers should see it: a fatal one kills this writer and
    /// is reported to the store; a full disk is said with the disk's free space.
    pub(super) fn failed(&mut self, error: &anyhow::Error) -> StoreError {
        let error = StoreError::classify_on(error, &self.options.disk);
        self.note(error)
    }

    /// Notes a classified error: a fatal one kills this writer and is reported to the store.
    pub(super) fn note(&mut self, error: StoreError) -> StoreError {
        if self.dead.is_none() && error.is_fatal() {
            tracing::error!(error = %error, "DuckDB invalidated the database");
            self.dead = Some(error.clone());
            (self.options.on_fatal)(error.message());
        }
        error
    }

    fn commit_group(&mut self, group: Vec<Queued>) {
        if group.is_empty() {
            return;
        }
        if let Some(reason) = &self.dead {
            let reason = reason.clone().context("not stored");
            for p in group {
                p.done(Err(reason.clone()));
            }
            return;
        }
        let mut wal = self.wal_bytes();
        if wal >= self.options.checkpoint_wal_bytes {
            // Between commits, never inside one; a failure (another transaction holds the
            // database, or no room yet) only postpones it.
            if let Err(e) = self.checkpoint() {
                tracing::warn!(error = %e, "checkpoint postponed");
            }
            if self.dead.is_some() {
                return self.commit_group(group);
            }
            wal = self.wal_bytes();
        }
        // The WAL gets about the pages' size, and a later checkpoint needs room to fold the
        // WAL into the file: refuse the pages now rather than let DuckDB hit ENOSPC.
        let bytes: u64 = group.iter().map(|p| p.batch.get_array_memory_size() as u64).sum();
        if let Err(full) = self.options.disk.ensure(bytes + wal) {
            tracing::warn!(error = %full, pages = group.len(), "pages refused: disk full");
            self.metrics().commit(false, Duration::ZERO);
            let reason = StoreError::from(full);
            for p in group {
                p.done(Err(reason.clone()));
            }
            return;
        }
        let started = Instant::now();
        let seq = self.take_seq();
        let committed = self.try_commit(&group, seq);
        self.metrics().commit(committed.is_ok(), started.elapsed());
        match committed {
            Ok(()) => {
                let widest = group.iter().map(|p| leaf_columns(p.batch.schema().fields()) + LINEAGE_COLUMNS).max();
                self.dirty_leaves = self.dirty_leaves.max(widest.unwrap_or(0));
                let rows: usize = group.iter().map(|p| p.batch.num_rows()).sum();
                tracing::debug!(
                    pages = group.len(),
                    rows,
                    seq,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "committed"
                );
                // Counted before any job hears of its pages: a job done has its rows listed.
                for p in &group {
                    self.options.rows.add(&p.table, p.batch.num_rows() as u64);
                    for (table, batch) in &p.side {
                        self.options.rows.add(table, batch.num_rows() as u64);
                    }
                }
                self.options.rows.changed();
                for p in group {
                    let rows = p.batch.num_rows();
                    self.metrics().page_written(&p.table, rows);
                    p.done(Ok(Committed { rows, commit_seq: seq }));
                }
            }
            Err(e) => {
                let error = self.failed(&e);
                if group.len() == 1 || error.holds_for_every_page() {
                    // One page, or fatal, or disk full: page by page would fail the same way.
                    for p in group {
                        p.done(Err(error.clone()));
                    }
                } else {
                    self.commit_one_by_one(group, &error);
                }
            }
        }
    }

    /// One bad page must not sink the pages it happened to share a commit with.
    fn commit_one_by_one(&mut self, group: Vec<Queued>, error: &StoreError) {
        tracing::warn!(error = %error, pages = group.len(), "group commit failed, committing pages one by one");
        for p in group {
            if let Some(reason) = &self.dead {
                p.done(Err(reason.clone().context("not stored")));
                continue;
            }
            let seq = self.take_seq();
            let started = Instant::now();
            let result = self.try_commit(std::slice::from_ref(&p), seq);
            self.metrics().commit(result.is_ok(), started.elapsed());
            let rows = p.batch.num_rows();
            if result.is_ok() {
                self.options.rows.add(&p.table, rows as u64);
                for (table, batch) in &p.side {
                    self.options.rows.add(table, batch.num_rows() as u64);
                }
                self.options.rows.changed();
                self.metrics().page_written(&p.table, rows);
            }
            let result = result.map_err(|e| self.failed(&e));
            p.done(result.map(|_| Committed { rows, commit_seq: seq }));
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.options.metrics
    }

    pub(super) fn take_seq(&mut self) -> i64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn try_commit(&self, pages: &[Queued], seq: i64) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut appended = Duration::ZERO;
        in_transaction(&self.conn, |_| {
            let result = self.append_all(pages, seq);
            appended = started.elapsed();
            result
        })?;
        tracing::trace!(
            append_ms = appended.as_millis() as u64,
            commit_ms = (started.elapsed() - appended).as_millis() as u64,
            "append and commit"
        );
        Ok(())
    }

    fn append_all(&self, pages: &[Queued], seq: i64) -> anyhow::Result<()> {
        let now = Utc::now();
        // The marks go first, all in one statement: a page committed twice fails on the
        // primary key before any rows are appended (and the group is then retried page by
        // page, where the error names the page). One statement, not one per page: DuckDB
        // plans every statement, and planning cost as much as the inserts themselves.
        let mut values: Vec<Box<dyn duckdb::ToSql>> = Vec::with_capacity(pages.len() * 6);
        for p in pages {
            values.push(Box::new(p.job_id.to_string()));
            values.push(Box::new(p.page));
            values.push(Box::new(p.table.to_string()));
            values.push(Box::new(p.batch.num_rows() as i64));
            values.push(Box::new(seq));
            values.push(Box::new(now));
        }
        let sql = format!(
            "INSERT INTO duckhaul_pages (job_id, page, table_name, rows, commit_seq, committed_at) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?)"; pages.len()].join(", ")
        );
        self.conn.execute(&sql, duckdb::params_from_iter(values)).with_context(|| match pages {
            [p] => format!("page {} of job {} is already committed", p.page, p.job_id),
            _ => format!("cannot mark {} pages committed", pages.len()),
        })?;
        let followed: Vec<&Queued> = pages.iter().filter(|p| p.next.is_some()).collect();
        if !followed.is_empty() {
            let mut values: Vec<Box<dyn duckdb::ToSql>> = Vec::with_capacity(followed.len() * 3);
            for p in &followed {
                values.push(Box::new(p.job_id.to_string()));
                values.push(Box::new(p.page));
                values.push(Box::new(match &p.next {
                    Some(NextPage::At(position)) => Some(position.clone()),
                    _ => None,
                }));
            }
            let sql = format!(
                "INSERT INTO duckhaul_page_positions (job_id, page, next_position) VALUES {}",
                vec!["(?, ?, ?)"; followed.len()].join(", ")
            );
            self.conn.execute(&sql, duckdb::params_from_iter(values)).context("cannot record the next pages")?;
        }
        // One appender (so one flush, which DuckDB runs as one planned INSERT) per table,
        // in the order the tables first appear.
        let mut tables: Vec<&str> = Vec::new();
        for p in pages {
            if !tables.contains(&&*p.table) {
                tables.push(&p.table);
            }
        }
        for table in tables {
            let mut appender = self.conn.appender(table).with_context(|| format!("no table {table}"))?;
            let mut count = 0;
            for p in pages.iter().filter(|p| &*p.table == table) {
                count += 1;
                let batch = with_lineage(&p.batch, &p.job_id, p.page, now.timestamp_micros(), seq)?;
                appender
                    .append_record_batch(batch)
                    .with_context(|| format!("cannot append page {} of job {} to {table}", p.page, p.job_id))?;
            }
            appender.flush().with_context(|| format!("cannot append {count} pages to {table}"))?;
        }
        for p in pages {
            for (table, batch) in &p.side {
                let mut appender = self.conn.appender(table).with_context(|| format!("no table {table}"))?;
                let batch = with_lineage(batch, &p.job_id, p.page, now.timestamp_micros(), seq)?;
                appender
                    .append_record_batch(batch)
                    .with_context(|| format!("cannot append page {} of job {} to {table}", p.page, p.job_id))?;
                appender.flush().with_context(|| format!("cannot append page {} to {table}", p.page))?;
            }
        }
        Ok(())
    }
}

/// Appends the lineage columns (`_job_id`, `_page`, `_ingested_at`, `_commit`).
fn with_lineage(
    batch: &RecordBatch,
    job_id: &str,
    page: u32,
    now_micros: i64,
    seq: i64,
) -> anyhow::Result<RecordBatch> {
    let n = batch.num_rows();
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    // An evolved source table has the columns added since its creation after its lineage.
    let at = schema.metadata().get(LINEAGE_AT).and_then(|at| at.parse().ok()).unwrap_or(fields.len()).min(fields.len());
    let lineage_fields = [
        Field::new("_job_id", DataType::Utf8, false),
        Field::new("_page", DataType::Int32, false),
        Field::new("_ingested_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("_commit", DataType::Int64, false),
    ];
    let lineage: [ArrayRef; 4] = [
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(job_id, n))),
        Arc::new(Int32Array::from(vec![page as i32; n])),
        Arc::new(TimestampMicrosecondArray::from(vec![now_micros; n]).with_timezone("UTC")),
        Arc::new(Int64Array::from(vec![seq; n])),
    ];
    fields.splice(at..at, lineage_fields);
    columns.splice(at..at, lineage);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}
