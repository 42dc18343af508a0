//! Free space on the database's disk, checked before DuckDB would run out of it.
//!
//! DuckDB answers ENOSPC on its WAL by invalidating the database (and, mid-checkpoint, with
//! internal errors). So the writer asks here first: a page that would not fit fails with
//! "disk full: … free on …" and the database stays open; a checkpoint that would not fit waits
//! (the WAL keeps the rows). Once space is freed the next commit simply succeeds.

use std::path::{Path, PathBuf};

use super::error::StoreError;

/// Space kept free beyond what a write needs: job records, page marks and DuckDB's own
/// metadata are written without a check, and must still fit.
pub const RESERVE_BYTES: u64 = 16 << 20;

/// Not enough free space for a write.
#[derive(Debug, Clone, thiserror::Error)]
#[error("disk full: {} free on {}, {} needed; free some space and resume the job", mb(*.free), .dir.display(), mb(*.needed))]
pub struct DiskFull {
    pub dir: PathBuf,
    pub free: u64,
    pub needed: u64,
}

/// The disk a database (or a staging folder) is on.
#[derive(Debug, Clone)]
pub struct Disk {
    dir: PathBuf,
}

impl Disk {
    /// The disk holding `path` (a file or a folder; a file's folder is what is measured).
    pub fn of(path: &Path) -> Disk {
        let dir =
            if path.is_dir() { path.to_path_buf() } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        Disk { dir }
    }

    /// Bytes an unprivileged writer can still use (`f_bavail`).
    pub fn free(&self) -> std::io::Result<u64> {
        free_bytes(&self.dir)
    }

    /// Fails unless `needed` bytes plus the reserve are free. A disk that cannot be measured
    /// passes: DuckDB's own error is then the answer.
    pub fn ensure(&self, needed: u64) -> Result<(), DiskFull> {
        let needed = needed.saturating_add(RESERVE_BYTES);
        match self.free() {
            Ok(free) if free < needed => Err(DiskFull { dir: self.dir.clone(), free, needed }),
            _ => Ok(()),
        }
    }

    /// Says a failure that ran out of room (`StoreError::DiskFull`: DuckDB's ENOSPC, an I/O
    /// error) as `DiskFull`, with the room there is now.
    pub fn explain(&self, error: &anyhow::Error) -> Option<DiskFull> {
        matches!(StoreError::classify(error), StoreError::DiskFull(_)).then(|| self.full_now())
    }

    /// The disk is full now: what is free, and the reserve that should be.
    pub fn full_now(&self) -> DiskFull {
        DiskFull { dir: self.dir.clone(), free: self.free().unwrap_or(0), needed: RESERVE_BYTES }
    }
}

fn mb(bytes: u64) -> String {
    if bytes >= 10 << 20 { format!("{} MB", bytes / 1_000_000) } else { format!("{:.1} MB", bytes as f64 / 1e6) }
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `stat` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> std::io::Result<u64> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "free space is measured on unix only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_measured_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::of(&dir.path().join("x.duckdb"));
        let free = disk.free().unwrap();
        assert!(free > 0);
        assert!(disk.ensure(0).is_ok() || free < RESERVE_BYTES);
        let full = disk.ensure(free + 1).unwrap_err();
        // Other tests write to the same disk meanwhile: the two measures are close, not equal.
        assert!(full.free.abs_diff(free) < 256 << 20, "{full}");
        assert!(full.to_string().starts_with("disk full: "), "{full}");
        assert!(full.to_string().contains(&dir.path().display().to_string()), "{full}");
    }

    #[test]
    fn enospc_is_recognised_in_duckdb_words() {
        let disk = Disk::of(Path::new("/data/duckhaul.duckdb"));
        let enospc = duckdb::Error::DuckDBFailure(
            duckdb::ffi::Error::new(1),
            Some("IO Error: Could not write file \"/data/x.wal\": No space left on device".into()),
        );
        let e = disk.explain(&anyhow::Error::new(enospc).context("cannot write the snapshot")).unwrap();
        assert_eq!(e.dir, Path::new("/data"));
        assert!(disk.explain(&anyhow::anyhow!("Constraint Error: duplicate key")).is_none());
    }
}
