//! What a failed DuckDB call means, decided once, where the error is caught.
//!
//! DuckDB says what kind of failure it had only in its message ("FATAL Error: …", "Out of
//! Memory Error: …", "Catalog Error: … does not exist!", an I/O error naming ENOSPC). This is
//! the one place that reads those words: every DuckDB (or file) error the store meets becomes
//! a `StoreError` of one kind here, and the rest of duckhaul matches on the kind.

use std::path::Path;

use super::disk::{Disk, DiskFull};

/// A failed store call, by what it means for the next one. Its text is the message as callers
/// (jobs' failed pages, logs) have always seen it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// DuckDB invalidated the database instance (a FATAL or INTERNAL error, or any statement
    /// after one): nothing works until the file is reopened (`crate::recovery`).
    #[error("{0}")]
    Fatal(String),
    /// No room on the database's disk: refused before DuckDB could hit it, or DuckDB's own
    /// ENOSPC. Said as `disk full: … free on …`.
    #[error("{0}")]
    DiskFull(String),
    /// DuckDB could not allocate within its memory limit and rolled the statement back; the
    /// database is intact (an allocation that invalidates it is `Fatal`).
    #[error("{0}")]
    OutOfMemory(String),
    /// The statement names a table or view (or another catalogue entry) that does not exist.
    #[error("{0}")]
    MissingTable(String),
    /// Another process holds the database file (only when opening it).
    #[error("{0}")]
    Locked(String),
    /// The database is closing, or its writer has stopped: it takes nothing more.
    #[error("{0}")]
    Closed(String),
    /// Any other failure: the statement failed, the database is fine.
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// Classifies a failed DuckDB call by the DuckDB (or I/O) error at its root; the message
    /// is the whole context chain (`{:#}`).
    pub fn classify(error: &anyhow::Error) -> StoreError {
        let message = format!("{error:#}");
        Reading::of(error).in_use().with(message)
    }

    /// `classify`, with a full disk said in the words of `disk` (how much is free, where), the
    /// DuckDB error after it.
    pub fn classify_on(error: &anyhow::Error, disk: &Disk) -> StoreError {
        Reading::of(error).on_disk(format!("{error:#}"), disk)
    }

    /// `classify_on` for a DuckDB error met as it is, without context.
    pub fn from_duckdb_on(error: &duckdb::Error, disk: &Disk) -> StoreError {
        Reading::of_duckdb(error).on_disk(error.to_string(), disk)
    }

    /// Classifies a failure to open the database file. No instance is there to invalidate yet:
    /// what an open failure can be about is memory (a WAL that does not replay within the
    /// limit) and another process holding the file.
    pub fn opening(error: &duckdb::Error) -> StoreError {
        let reading = Reading::of_duckdb(error);
        let message = error.to_string();
        if reading.out_of_memory {
            StoreError::OutOfMemory(message)
        } else if reading.locked {
            StoreError::Locked(message)
        } else {
            reading.in_use().with(message)
        }
    }

    /// Whether the reason a page was refused holds for every other page too, so an ingest
    /// stops fetching at once rather than fetch pages that cannot be stored: the disk is full,
    /// the database was invalidated (a reopen must fix it, whatever the page), or it is
    /// closing. A page DuckDB refused for itself (bad data, a memory peak it rolled back, a
    /// table gone) says nothing of the next one.
    pub fn holds_for_every_page(&self) -> bool {
        matches!(self, StoreError::Fatal(_) | StoreError::DiskFull(_) | StoreError::Closed(_))
    }

    /// Whether the database instance is lost and must be reopened.
    pub fn is_fatal(&self) -> bool {
        matches!(self, StoreError::Fatal(_))
    }

    pub fn message(&self) -> &str {
        match self {
            StoreError::Fatal(m)
            | StoreError::DiskFull(m)
            | StoreError::OutOfMemory(m)
            | StoreError::MissingTable(m)
            | StoreError::Locked(m)
            | StoreError::Closed(m)
            | StoreError::Other(m) => m,
        }
    }

    /// The same kind of error, its message after `prefix: `.
    pub fn context(self, prefix: &str) -> StoreError {
        let kind = Kind::of(&self);
        kind.with(format!("{prefix}: {}", self.message()))
    }

    /// The file `path` could not be opened, for this reason.
    pub(super) fn opening_file(self, path: &Path) -> StoreError {
        let kind = Kind::of(&self);
        let text = self.message();
        match kind {
            Kind::Locked => kind.with(format!(
                "the database {} is in use by another process (DuckDB allows one process per file): {text}",
                path.display()
            )),
            _ => kind.with(format!("cannot open the database {}: {text}", path.display())),
        }
    }
}

impl From<duckdb::Error> for StoreError {
    fn from(error: duckdb::Error) -> StoreError {
        Reading::of_duckdb(&error).in_use().with(error.to_string())
    }
}

impl From<DiskFull> for StoreError {
    fn from(full: DiskFull) -> StoreError {
        StoreError::DiskFull(full.to_string())
    }
}

/// A `StoreError`'s kind without its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fatal,
    DiskFull,
    OutOfMemory,
    MissingTable,
    Locked,
    Closed,
    Other,
}

impl Kind {
    fn of(error: &StoreError) -> Kind {
        match error {
            StoreError::Fatal(_) => Kind::Fatal,
            StoreError::DiskFull(_) => Kind::DiskFull,
            StoreError::OutOfMemory(_) => Kind::OutOfMemory,
            StoreError::MissingTable(_) => Kind::MissingTable,
            StoreError::Locked(_) => Kind::Locked,
            StoreError::Closed(_) => Kind::Closed,
            StoreError::Other(_) => Kind::Other,
        }
    }

    fn with(self, message: String) -> StoreError {
        match self {
            Kind::Fatal => StoreError::Fatal(message),
            Kind::DiskFull => StoreError::DiskFull(message),
            Kind::OutOfMemory => StoreError::OutOfMemory(message),
            Kind::MissingTable => StoreError::MissingTable(message),
            Kind::Locked => StoreError::Locked(message),
            Kind::Closed => StoreError::Closed(message),
            Kind::Other => StoreError::Other(message),
        }
    }
}

/// What an error says of itself, read from the first error in its chain that duckhaul knows.
#[derive(Debug, Default)]
struct Reading {
    fatal: bool,
    disk_full: bool,
    out_of_memory: bool,
    missing: bool,
    locked: bool,
    /// A `StoreError` already classified (a writer's answer passed up).
    known: Option<Kind>,
}

impl Reading {
    fn of(error: &anyhow::Error) -> Reading {
        for cause in error.chain() {
            if let Some(known) = cause.downcast_ref::<StoreError>() {
                return Reading { known: Some(Kind::of(known)), ..Reading::default() };
            }
            if cause.downcast_ref::<DiskFull>().is_some() {
                return Reading { disk_full: true, ..Reading::default() };
            }
            if let Some(e) = cause.downcast_ref::<duckdb::Error>() {
                return Reading::of_duckdb(e);
            }
            if let Some(e) = cause.downcast_ref::<std::io::Error>() {
                let full = e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(libc::ENOSPC);
                return Reading { disk_full: full, ..Reading::default() };
            }
        }
        Reading::default()
    }

    /// DuckDB's own words for its kinds of failure.
    fn of_duckdb(error: &duckdb::Error) -> Reading {
        let text = error.to_string();
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        Reading {
            // Fatal errors, internal errors (assertions, which invalidate the instance too)
            // and the invalidated state itself on every later statement.
            fatal: has(&["database has been invalidated", "FATAL Error", "INTERNAL Error"]),
            disk_full: has(&["No space left on device", "ENOSPC"]),
            out_of_memory: has(&["could not allocate", "failed to allocate", "failed to pin", "Out of Memory"]),
            missing: text.contains("Catalog Error") && text.contains("does not exist"),
            // A file another process holds ("Could not set lock on file", with "Conflicting
            // lock is held"); not any message with "block" in it.
            locked: has(&["Could not set lock", "Conflicting lock"]),
            known: None,
        }
    }

    fn on_disk(&self, message: String, disk: &Disk) -> StoreError {
        let message = if self.disk_full { format!("{} ({message})", disk.full_now()) } else { message };
        self.in_use().with(message)
    }

    /// The kind of an error met while the database is open: fatal first (whatever caused it,
    /// only a reopen helps), then a full disk, memory, a missing table.
    fn in_use(&self) -> Kind {
        if let Some(kind) = self.known {
            kind
        } else if self.fatal {
            Kind::Fatal
        } else if self.disk_full {
            Kind::DiskFull
        } else if self.out_of_memory {
            Kind::OutOfMemory
        } else if self.missing {
            Kind::MissingTable
        } else if self.locked {
            Kind::Locked
        } else {
            Kind::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(message: &str) -> duckdb::Error {
        duckdb::Error::DuckDBFailure(duckdb::ffi::Error::new(1), Some(message.to_owned()))
    }

    #[test]
    fn duckdb_errors_are_classified_by_their_words() {
        for fatal in [
            "Invalid Input Error: database has been invalidated because of a previous fatal error. The database must be restarted prior to being used again.",
            "FATAL Error: Failed to create checkpoint because of error: could not allocate block of size 256.0 KiB (45.7 MiB/45.7 MiB used)",
            "INTERNAL Error: Could not find node in column segment tree!",
        ] {
            let e = StoreError::from(failure(fatal));
            assert!(e.is_fatal() && e.holds_for_every_page(), "{fatal}");
            assert_eq!(e.to_string(), fatal);
        }
        let kind = |message: &str| Kind::of(&StoreError::from(failure(message)));
        assert_eq!(
            kind("Out of Memory Error: could not allocate block of size 256.0 KiB (45.5 MiB/45.7 MiB used)"),
            Kind::OutOfMemory
        );
        assert_eq!(kind("Catalog Error: Table with name nope does not exist!"), Kind::MissingTable);
        assert_eq!(kind("IO Error: Could not write file \"/data/x.wal\": No space left on device"), Kind::DiskFull);
        assert_eq!(kind("Constraint Error: Duplicate key \"job_id: a, page: 1\" violates primary key"), Kind::Other);
        for refused in [Kind::OutOfMemory, Kind::MissingTable, Kind::Other] {
            assert!(!refused.with(String::new()).holds_for_every_page(), "{refused:?}");
        }
    }

    #[test]
    fn the_error_under_context_decides_and_the_chain_is_the_message() {
        let e = anyhow::Error::new(failure("FATAL Error: checkpoint failed")).context("cannot append page 3");
        let fatal = StoreError::classify(&e);
        assert!(fatal.is_fatal(), "{fatal:?}");
        assert!(fatal.to_string().starts_with("cannot append page 3: FATAL Error: checkpoint failed"), "{fatal}");
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = anyhow::Error::new(io).context("cannot create x.parquet");
        assert!(matches!(StoreError::classify(&e), StoreError::DiskFull(_)));
        let passed_up = anyhow::Error::new(StoreError::Closed("the writer has stopped".into())).context("page 2");
        assert_eq!(StoreError::classify(&passed_up), StoreError::Closed("page 2: the writer has stopped".into()));
        assert!(matches!(StoreError::classify(&anyhow::anyhow!("FATAL Error in words only")), StoreError::Other(_)));
    }

    #[test]
    fn a_full_disk_is_said_with_the_disk_and_keeps_its_kind_under_context() {
        let disk = Disk::of(Path::new("/data/duckhaul.duckdb"));
        let e = anyhow::Error::new(failure("IO Error: Could not write file \"/data/x.wal\": No space left on device"));
        let full = StoreError::classify_on(&e, &disk);
        assert!(matches!(full, StoreError::DiskFull(_)), "{full:?}");
        assert!(full.to_string().starts_with("disk full: ") && full.to_string().contains(" free on /data"), "{full}");
        assert!(full.to_string().contains("(IO Error: Could not write file"), "{full}");
        let later = full.context("not stored");
        assert!(later.to_string().starts_with("not stored: disk full: "), "{later}");
        assert!(later.holds_for_every_page());
    }

    #[test]
    fn an_open_failure_is_about_memory_or_the_lock() {
        let oom = StoreError::opening(&failure("FATAL Error: failed to allocate data of size 6.0 MiB"));
        assert!(matches!(oom, StoreError::OutOfMemory(_)), "{oom:?}");
        let held = StoreError::opening(&failure(
            "IO Error: Could not set lock on file \"x.duckdb\": Conflicting lock is held in /usr/bin/duckhaul (PID 7)",
        ));
        let held = held.opening_file(Path::new("x.duckdb"));
        assert!(matches!(held, StoreError::Locked(_)));
        assert!(held.to_string().starts_with("the database x.duckdb is in use by another process"), "{held}");
    }
}
