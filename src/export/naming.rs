//! Object names: `{table}/dt=YYYY-MM-DD/{export_id}.parquet` under the destination's prefix,
//! Hive-style so BigQuery external tables and `bq load` pick up the date partition.

use chrono::{DateTime, Utc};

/// The object key (relative to the destination) of one table's Parquet file.
pub fn parquet_key(table: &str, export_id: &str, at: DateTime<Utc>) -> String {
    format!("{table}/dt={}/{export_id}.parquet", at.format("%Y-%m-%d"))
}

/// The manifest that sits beside a Parquet file.
pub fn manifest_key(table: &str, export_id: &str, at: DateTime<Utc>) -> String {
    format!("{table}/dt={}/{export_id}.manifest.json", at.format("%Y-%m-%d"))
}

/// The file stem of one task's part of a split job: `{run}-part-{index}-of-{count}`, where
/// `run` names the whole run (a Cloud Run Jobs execution), so every part sorts together.
pub fn part_stem(run: &str, index: u32, count: u32) -> String {
    format!("{run}-part-{index}-of-{count}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_are_partitioned_by_day() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 23, 59, 0).unwrap();
        assert_eq!(parquet_key("users", "abc", at), "users/dt=2026-11-27/abc.parquet");
        assert_eq!(manifest_key("users", "abc", at), "users/dt=2026-11-27/abc.manifest.json");
        assert_eq!(
            parquet_key("users", &part_stem("job-x7", 2, 3), at),
            "users/dt=2026-11-27/job-x7-part-2-of-3.parquet"
        );
    }
}
