//! Files the tests look for in export folders.

use std::path::{Path, PathBuf};

/// Every Parquet file below `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // The durable log's groups are duckhaul's own, not exports (BigQuery loads
            // `{table}/dt=*/`, never `_duckhaul/`).
            if path.file_name().is_some_and(|n| n == "_duckhaul") {
                continue;
            }
            out.extend(parquet_files(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    out.sort();
    out
}
