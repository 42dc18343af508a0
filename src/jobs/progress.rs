//! A job's live counters, updated as pages commit and faults happen, and the pace they give.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::view::TableChange;

/// Live counters, updated as pages commit and faults happen.
#[derive(Debug, Default)]
pub struct Progress {
    pages_done: AtomicU64,
    rows: AtomicU64,
    /// What a resumed job had done before this run: counted, but not in this run's pace.
    pages_before: AtomicU64,
    rows_before: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    pace_per_minute: Mutex<Option<f64>>,
    last_error: Mutex<Option<String>>,
    /// A source's job: what its pages did to its table (`None` until it tracks them).
    evolution: Mutex<Option<Evolution>>,
    /// Marked each time pages are counted, for whoever shows the progress (`changes`).
    counted: watch::Sender<()>,
}

/// What a source's pages did to its table.
#[derive(Debug, Clone, Default)]
struct Evolution {
    quarantined: u64,
    discarded_values: u64,
    schema_changes: Vec<TableChange>,
}

/// The counters at one moment.
#[derive(Debug, Clone, Default)]
pub(super) struct Counts {
    pub pages_done: u64,
    pub rows: u64,
    pub retries: u64,
    pub throttled: u64,
    pub pace_per_minute: Option<f64>,
    pub last_error: Option<String>,
    pub quarantined: Option<u64>,
    pub discarded_values: Option<u64>,
    pub schema_changes: Vec<TableChange>,
}

impl Progress {
    pub fn add(&self, pages: u64, rows: u64) {
        self.pages_done.fetch_add(pages, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.counted.send_replace(());
    }

    /// Changes each time pages are counted: wait on it (`changed`) rather than look again and
    /// again.
    pub fn changes(&self) -> watch::Receiver<()> {
        self.counted.subscribe()
    }

    /// Pages a resumed job had already committed.
    pub fn add_done_before(&self, pages: u64, rows: u64) {
        self.pages_before.fetch_add(pages, Ordering::Relaxed);
        self.rows_before.fetch_add(rows, Ordering::Relaxed);
        self.add(pages, rows);
    }

    /// A transient fault that is being retried.
    pub fn retried(&self, error: &str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.set_last_error(error);
    }

    /// A 429 from the upstream; `pace_per_minute` is its path's pace after it.
    pub fn throttled(&self, pace_per_minute: Option<f64>) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        self.set_pace(pace_per_minute);
    }

    /// The pace of the job's upstream path now, in requests per minute (`None`: unlimited).
    pub fn set_pace(&self, pace_per_minute: Option<f64>) {
        *self.pace_per_minute.lock().expect("progress lock poisoned") = pace_per_minute;
    }

    pub fn set_last_error(&self, error: &str) {
        *self.last_error.lock().expect("progress lock poisoned") = Some(error.to_string());
    }

    /// The faults of earlier runs of a resumed job: they still happened, so they still count
    /// (its pace starts afresh: see `add_done_before`).
    pub(super) fn carry_faults(&self, retries: u64, throttled: u64, last_error: Option<&str>) {
        self.retries.fetch_add(retries, Ordering::Relaxed);
        self.throttled.fetch_add(throttled, Ordering::Relaxed);
        if let Some(e) = last_error {
            self.last_error.lock().expect("progress lock poisoned").get_or_insert_with(|| e.to_string());
        }
    }

    /// A source's job: its quarantined records and table changes are counted (from 0).
    pub fn track_evolution(&self) {
        self.evolution.lock().expect("progress lock poisoned").get_or_insert_with(Evolution::default);
    }

    fn evolved(&self, f: impl FnOnce(&mut Evolution)) {
        f(self.evolution.lock().expect("progress lock poisoned").get_or_insert_with(Evolution::default));
    }

    /// Records stored in the table's quarantine.
    pub fn quarantined(&self, records: u64) {
        self.evolved(|e| e.quarantined += records);
    }

    /// Values left out of rows loaded (`discard_value`).
    pub fn discarded_values(&self, values: u64) {
        self.evolved(|e| e.discarded_values += values);
    }

    /// Changes a page needed in the table: each column once, with the first page (by number)
    /// that needed it, whichever of the pages fetched in parallel made the change.
    pub fn schema_changed(&self, changes: impl IntoIterator<Item = TableChange>) {
        self.evolved(|e| {
            for change in changes {
                match e.schema_changes.iter_mut().find(|c| c.column == change.column) {
                    Some(known) => known.page = known.page.min(change.page),
                    None => e.schema_changes.push(change),
                }
            }
        });
    }

    /// What earlier runs of a resumed job did to its table, as its saved record says: the values
    /// discarded (the quarantined records and the changes are counted again from the database,
    /// where they were committed with their pages: see `ingest`).
    pub(super) fn carry_evolution(&self, view: &super::JobView) {
        if let Some(discarded) = view.discarded_values {
            self.evolved(|e| e.discarded_values += discarded);
        }
    }

    pub(super) fn counts(&self) -> Counts {
        let evolution = self.evolution.lock().expect("progress lock poisoned").clone();
        Counts {
            quarantined: evolution.as_ref().map(|e| e.quarantined),
            discarded_values: evolution.as_ref().map(|e| e.discarded_values).filter(|n| *n > 0),
            schema_changes: evolution.map(|e| e.schema_changes).unwrap_or_default(),
            pages_done: self.pages_done.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            pace_per_minute: *self.pace_per_minute.lock().expect("progress lock poisoned"),
            last_error: self.last_error.lock().expect("progress lock poisoned").clone(),
        }
    }

    /// This run's rows per second between `started` and `until`, and, while `running`, the
    /// seconds left at that pace to reach `pages_total`.
    pub(super) fn pace(
        &self,
        started: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        running: bool,
        pages_total: u64,
    ) -> (Option<f64>, Option<f64>) {
        let Some(started) = started else { return (None, None) };
        let elapsed = (until - started).as_seconds_f64();
        if elapsed <= 0.0 {
            return (None, None);
        }
        let rows = self.rows.load(Ordering::Relaxed).saturating_sub(self.rows_before.load(Ordering::Relaxed));
        let done = self.pages_done.load(Ordering::Relaxed);
        let pages = done.saturating_sub(self.pages_before.load(Ordering::Relaxed));
        let eta = (running && pages > 0).then(|| pages_total.saturating_sub(done) as f64 * elapsed / pages as f64);
        (Some(rows as f64 / elapsed), eta)
    }
}
