//! What the destination holds for a table, read back as a consumer would: every object under
//! `{table}/`, each Parquet file downloaded and its rows counted by page with DuckDB.

use std::collections::BTreeMap;

use crate::instance::Destination;

/// A table's exports in the destination.
#[derive(Debug)]
pub struct Exported {
    /// Rows and files per `(_job_id, _page)`, across every Parquet file under `{table}/`.
    pub pages: BTreeMap<(String, i64), (i64, i64)>,
    /// Objects under `{table}/` that are neither `dt=…/X.parquet` nor its `X.manifest.json`.
    pub strangers: Vec<String>,
    /// Parquet files without the manifest beside them.
    pub without_manifest: Vec<String>,
    pub parquet: Vec<String>,
    /// The Parquet files, downloaded, as a DuckDB list literal (`['a', 'b']`).
    files: String,
    _downloads: tempfile::TempDir,
}

pub fn exported(destination: &Destination, table: &str) -> Exported {
    let names = destination.list(&format!("{table}/"));
    let in_partition = |name: &str| {
        let rest = name.strip_prefix(&format!("{table}/dt="))?;
        let (day, file) = rest.split_once('/')?;
        (day.len() == 10 && !file.contains('/')).then_some(file.to_string())
    };
    let mut strangers = Vec::new();
    let mut parquet = Vec::new();
    for name in &names {
        match in_partition(name) {
            Some(file) if file.ends_with(".parquet") => parquet.push(name.clone()),
            Some(file) if file.ends_with(".manifest.json") => {}
            _ => strangers.push(name.clone()),
        }
    }
    let without_manifest = parquet
        .iter()
        .filter(|p| !names.contains(&format!("{}.manifest.json", p.trim_end_matches(".parquet"))))
        .cloned()
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, name) in parquet.iter().enumerate() {
        let path = dir.path().join(format!("{i}.parquet"));
        std::fs::write(&path, destination.read(name)).unwrap();
        files.push(format!("'{}'", path.display()));
    }
    let mut pages = BTreeMap::new();
    if !files.is_empty() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let sql = format!(
            "SELECT _job_id, _page, count(*), count(DISTINCT filename) \
             FROM read_parquet([{}], filename = true) GROUP BY ALL",
            files.join(", ")
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let page: i64 = row.get(1).unwrap();
            pages.insert((row.get::<_, String>(0).unwrap(), page), (row.get(2).unwrap(), row.get(3).unwrap()));
        }
    }
    Exported { pages, strangers, without_manifest, parquet, files: format!("[{}]", files.join(", ")), _downloads: dir }
}

impl Exported {
    /// `sql` over every exported row, `{rows}` standing for them: its first column.
    pub fn query_i64(&self, sql: &str) -> i64 {
        let sql = sql.replace("{rows}", &format!("read_parquet({})", self.files));
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.query_row(&sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every page of `job` (of any one job, if `None`) in `pages` is there once, whole (`rows`
    /// rows, in one file), and nothing else is; beside each Parquet file its manifest, and
    /// nothing but exports.
    pub fn assert_each_page_once(&self, job: Option<&str>, pages: impl IntoIterator<Item = i64>, rows: i64) {
        let job = job.map_or_else(|| self.only_job(), str::to_string);
        let job = job.as_str();
        assert!(self.strangers.is_empty(), "objects other than exports under the table: {:?}", self.strangers);
        assert!(
            self.without_manifest.is_empty(),
            "Parquet files without a manifest (a load of dt=*/ takes them): {:?} of {:?}",
            self.without_manifest,
            self.parquet
        );
        let expected: Vec<(String, i64)> = pages.into_iter().map(|p| (job.to_string(), p)).collect();
        let missing: Vec<i64> = expected.iter().filter(|k| !self.pages.contains_key(*k)).map(|k| k.1).collect();
        let extra: Vec<&(String, i64)> = self.pages.keys().filter(|k| !expected.contains(k)).collect();
        let twice: Vec<(i64, (i64, i64))> = self
            .pages
            .iter()
            .filter(|(_, (n, files))| *n != rows || *files != 1)
            .map(|((_, page), counts)| (*page, *counts))
            .collect();
        assert!(missing.is_empty(), "pages missing from the exports: {missing:?} ({} files)", self.parquet.len());
        assert!(extra.is_empty(), "pages exported that no one asked for: {extra:?}");
        assert!(twice.is_empty(), "pages not exported once with {rows} rows: (page, (rows, files)) {twice:?}");
    }

    pub fn rows(&self) -> i64 {
        self.pages.values().map(|(n, _)| n).sum()
    }

    /// The one `_job_id` of every exported row.
    fn only_job(&self) -> String {
        let jobs: std::collections::BTreeSet<&String> = self.pages.keys().map(|(job, _)| job).collect();
        assert_eq!(jobs.len(), 1, "the exported rows come from {} jobs: {jobs:?}", jobs.len());
        jobs.into_iter().next().unwrap().clone()
    }
}
