//! Before an export: the groups of a table that a lost instance shipped, loaded here. Each
//! page once (a page committed here already, or in an earlier group, is skipped), and the
//! pages an export already holds below every watermark (an incremental export does not take
//! them again; a snapshot has them).

use std::collections::{HashMap, HashSet};

use anyhow::Context;

use super::layout;
use super::objects::{ExportedPages, GroupManifest};
use super::{Durable, read_json};
use crate::store::GroupLoad;
use crate::store::groups::{self, GroupRecord};

impl Durable {
    /// Settles the table's unsettled exports, then loads every durable group of `table` whose
    /// rows are not here; answers the rows loaded.
    pub async fn load_table(&self, table: &str) -> anyhow::Result<u64> {
        let _one_at_a_time = self.inner.loading.lock().await;
        let mut keys = self.sink().list(&layout::table_prefix(table)).await?;
        // An export a lost run left half done is completed or dropped first: it decides which
        // pages are exported already (listed again only if it wrote their records).
        if self.settle_exports(table, &keys).await? {
            keys = self.sink().list(&layout::table_prefix(table)).await?;
        }
        let listing = layout::parse(&keys);
        let Some(jobs) = listing.get(table) else { return Ok(0) };
        let t = table.to_string();
        let known: HashMap<String, bool> =
            self.store().read(move |conn| Ok(groups::known_groups(conn, &t)?)).await?.into_iter().collect();
        let mut loaded = 0;
        for (job_id, found) in jobs {
            let todo: Vec<&String> = found.groups.iter().filter(|g| known.get(*g) != Some(&true)).collect();
            if todo.is_empty() {
                continue;
            }
            let id = job_id.clone();
            let mut here = self.store().read(move |conn| Ok(groups::local_pages(conn, &id)?)).await?;
            let mut exported = HashSet::new();
            for key in &found.exported {
                if let Some(record) = read_json::<ExportedPages>(self.sink(), key).await? {
                    exported.extend(record.pages);
                }
            }
            for group in todo {
                loaded += self.load_group(table, job_id, group, &mut here, &exported).await?;
            }
        }
        if loaded > 0 {
            tracing::info!(table, rows = loaded, "rows loaded from the destination's durable log");
        }
        Ok(loaded)
    }

    /// Loads the durable groups of every table the log holds (before a view is read).
    pub async fn load_all(&self) -> anyhow::Result<u64> {
        let keys = self.sink().list(layout::ROOT).await?;
        let mut loaded = 0;
        for table in layout::parse(&keys).keys() {
            loaded += self.load_table(table).await?;
        }
        Ok(loaded)
    }

    async fn load_group(
        &self,
        table: &str,
        job_id: &str,
        group: &str,
        here: &mut HashSet<u32>,
        exported: &HashSet<u32>,
    ) -> anyhow::Result<u64> {
        let key = layout::group_manifest(table, job_id, group);
        let manifest: GroupManifest =
            read_json(self.sink(), &key).await?.with_context(|| format!("{key} is gone from the destination"))?;
        let pages: Vec<(u32, u64)> =
            manifest.pages.iter().filter(|p| !here.contains(&p.page)).map(|p| (p.page, p.rows)).collect();
        let record = GroupRecord {
            group_id: group.to_string(),
            job_id: job_id.to_string(),
            table: table.to_string(),
            loaded: true,
            pages: pages.clone(),
        };
        if pages.is_empty() {
            // Every page is here already (committed here, or in an earlier group).
            self.store().record(move |conn| Ok(groups::record_loaded(conn, &record)?)).await?;
            return Ok(0);
        }
        let data_key = layout::group_data(table, job_id, group);
        let (uri, bytes) = self
            .sink()
            .get_bytes(&data_key)
            .await?
            .with_context(|| format!("{data_key} is gone from the destination"))?;
        anyhow::ensure!(
            bytes.len() as u64 == manifest.bytes && crc32c::crc32c(&bytes) == manifest.crc32c,
            "{uri} is not the file its manifest describes ({} bytes; the manifest says {} bytes, CRC32C {})",
            bytes.len(),
            manifest.bytes,
            manifest.crc32c
        );
        let file = self.staged(&format!("load-{group}.parquet"))?;
        tokio::fs::write(&file.0, &bytes).await.with_context(|| format!("cannot stage {uri}"))?;
        drop(bytes);
        let load = GroupLoad { group: record, file: file.0.clone(), exported: exported.clone() };
        let rows = self.store().writer()?.load_group(load).await?;
        here.extend(pages.iter().map(|(page, _)| *page));
        Ok(rows)
    }
}
