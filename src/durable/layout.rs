//! Where the durable log's objects are, under the destination: one folder per table and job,
//! so that an export lists only its table's, and a lifecycle rule on `_duckhaul/` expires them.
//!
//! ```text
//! _duckhaul/tables/{table}/{job}/job.json                   the job: spec, key, table DDL
//! _duckhaul/tables/{table}/{job}/groups/{group}.parquet     rows of a group of pages…
//! _duckhaul/tables/{table}/{job}/groups/{group}.json        …durable once this is written
//! _duckhaul/tables/{table}/{job}/end/{stamp}-{state}.json   how a run ended (the last wins)
//! _duckhaul/tables/{table}/{job}/exported/{export}.json     pages an export holds
//! _duckhaul/tables/{table}/_exports/{export}.json           an export about to write…
//! _duckhaul/tables/{table}/_exports/{export}.settled        …whose end is recorded
//! ```
//! BigQuery loads of `{table}/dt=*/` never see them. Names sort by time (group ids are UUIDv7,
//! stamps are UTC), and say enough that a listing alone tells which jobs ended how.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

pub const ROOT: &str = "_duckhaul/tables/";

pub fn table_prefix(table: &str) -> String {
    format!("{ROOT}{table}/")
}

fn job_prefix(table: &str, job: &str) -> String {
    format!("{ROOT}{table}/{job}/")
}

pub fn job_object(table: &str, job: &str) -> String {
    format!("{}job.json", job_prefix(table, job))
}

pub fn group_data(table: &str, job: &str, group: &str) -> String {
    format!("{}groups/{group}.parquet", job_prefix(table, job))
}

pub fn group_manifest(table: &str, job: &str, group: &str) -> String {
    format!("{}groups/{group}.json", job_prefix(table, job))
}

pub fn end_object(table: &str, job: &str, at: DateTime<Utc>, state: &str) -> String {
    format!("{}end/{}-{state}.json", job_prefix(table, job), at.format("%Y%m%dT%H%M%S%.6fZ"))
}

pub fn exported_object(table: &str, job: &str, export_id: &str) -> String {
    format!("{}exported/{export_id}.json", job_prefix(table, job))
}

/// The folder of a table's export intents; not a job's (ids never start with `_`).
const EXPORTS: &str = "_exports";

pub fn export_intent(table: &str, export_id: &str) -> String {
    format!("{ROOT}{table}/{EXPORTS}/{export_id}.json")
}

pub fn export_settled(table: &str, export_id: &str) -> String {
    format!("{ROOT}{table}/{EXPORTS}/{export_id}.settled")
}

/// The exports of `table` whose intent is written and whose end is not recorded.
pub fn unsettled_exports(keys: &[String], table: &str) -> Vec<String> {
    let folder = format!("{ROOT}{table}/{EXPORTS}/");
    let names: Vec<&str> = keys.iter().filter_map(|k| k.strip_prefix(folder.as_str())).collect();
    names
        .iter()
        .filter_map(|n| n.strip_suffix(".json"))
        .filter(|id| !names.contains(&format!("{id}.settled").as_str()))
        .map(str::to_string)
        .collect()
}

/// What a listing says of one job.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct JobListing {
    /// Its `job.json` is there.
    pub described: bool,
    /// Groups whose manifest is written (durable), by id, oldest first.
    pub groups: BTreeSet<String>,
    /// The state its last run ended in, and that end's key (`None`: it never ended).
    pub ended: Option<(String, String)>,
    /// Keys of the records of exports that hold its pages.
    pub exported: Vec<String>,
}

/// A listing of `_duckhaul/tables/`: table → job → what is there.
pub type Listing = BTreeMap<String, BTreeMap<String, JobListing>>;

/// Reads a listing's keys; keys of no known shape (a group's data without its manifest, files
/// of another version) are left out.
pub fn parse(keys: &[String]) -> Listing {
    let mut listing = Listing::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(ROOT) else { continue };
        let parts: Vec<&str> = rest.split('/').collect();
        let (table, job) = match parts.as_slice() {
            [table, job, ..] if !table.is_empty() && !job.is_empty() && !job.starts_with('_') => (*table, *job),
            _ => continue,
        };
        let entry = listing.entry(table.to_string()).or_default().entry(job.to_string()).or_default();
        match parts[2..] {
            ["job.json"] => entry.described = true,
            ["groups", name] => {
                if let Some(group) = name.strip_suffix(".json") {
                    entry.groups.insert(group.to_string());
                }
            }
            ["end", name] => {
                let Some(stem) = name.strip_suffix(".json") else { continue };
                // `{stamp}-{state}`: the stamp has no `-`, and sorts by time.
                let Some((_, state)) = stem.split_once('-') else { continue };
                if entry.ended.as_ref().is_none_or(|(_, last)| last.as_str() < key.as_str()) {
                    entry.ended = Some((state.to_string(), key.clone()));
                }
            }
            ["exported", name] if name.ends_with(".json") => entry.exported.push(key.clone()),
            _ => {}
        }
    }
    listing
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_listing_tells_jobs_groups_ends_and_exports_apart() {
        let at = |s| Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, s).unwrap();
        let keys: Vec<String> = vec![
            job_object("users", "j1"),
            group_data("users", "j1", "g1"),
            group_manifest("users", "j1", "g1"),
            // Data without its manifest is not durable.
            group_data("users", "j1", "g2"),
            end_object("users", "j1", at(1), "failed"),
            end_object("users", "j1", at(2), "succeeded"),
            exported_object("users", "j1", "e1"),
            job_object("users", "j2"),
            export_intent("users", "e1"),
            export_settled("users", "e1"),
            export_intent("users", "e2"),
            "_duckhaul/tables/users".to_string(),
            "users/dt=2026-12-03/e1.parquet".to_string(),
        ];
        let listing = parse(&keys);
        let j1 = &listing["users"]["j1"];
        assert!(j1.described);
        assert_eq!(j1.groups.iter().collect::<Vec<_>>(), ["g1"]);
        assert_eq!(j1.ended.as_ref().unwrap().0, "succeeded");
        assert_eq!(j1.exported, [exported_object("users", "j1", "e1")]);
        assert_eq!(listing["users"]["j2"], JobListing { described: true, ..JobListing::default() });
        assert_eq!(listing.len(), 1);
        assert_eq!(listing["users"].len(), 2, "export intents are not jobs");
        assert_eq!(unsettled_exports(&keys, "users"), ["e2"]);
    }
}
