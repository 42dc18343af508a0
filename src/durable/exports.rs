//! Exports exactly once across instances. Before an export writes its Parquet object it
//! records its intent (the object's key, its manifest, the pages it holds); once the object
//! and its manifest are written, each job's pages it holds (`exported/{export}.json`, what
//! `load` reads) and then the intent's end. Whoever finds an intent unsettled (the next export
//! of the table, on this instance or a fresh one) settles it: the data is there, so the
//! manifest and the pages are recorded; or it is not, and the export holds nothing.

use anyhow::Context;

use super::objects::{ExportIntent, ExportSettled, ExportedPages};
use super::{Durable, layout, read_json, write_json};
use crate::store::{groups, records};

/// The pages an export holds, by job, as its intent recorded them.
pub struct ExportPages {
    export_id: String,
    table: String,
    jobs: Vec<(String, Vec<u32>)>,
}

impl Durable {
    /// Records the intent of an export of `table` that holds the pages committed in
    /// `from < commit <= to` (`from` = `None`: every commit up to `to`), before its objects
    /// (`object_key`, then `manifest_key` holding `manifest`) are written.
    pub async fn export_begins(
        &self,
        export_id: &str,
        table: &str,
        range: (Option<i64>, i64),
        object_key: &str,
        manifest_key: &str,
        manifest: &[u8],
    ) -> anyhow::Result<ExportPages> {
        let (t, (from, to)) = (table.to_string(), range);
        let jobs = self.store().read(move |conn| Ok(groups::pages_in_range(conn, &t, from, to)?)).await?;
        let intent = ExportIntent {
            export_id: export_id.to_string(),
            table: table.to_string(),
            object_key: object_key.to_string(),
            manifest_key: manifest_key.to_string(),
            manifest: String::from_utf8_lossy(manifest).into_owned(),
            jobs: jobs.clone(),
        };
        write_json(self.sink(), &layout::export_intent(table, export_id), &intent)
            .await
            .context("cannot record the export's intent in the destination")?;
        Ok(ExportPages { export_id: export_id.to_string(), table: table.to_string(), jobs })
    }

    /// Records that the export's objects are written: each job's pages it holds, then its end.
    pub async fn export_written(&self, pages: &ExportPages) -> anyhow::Result<()> {
        for (job_id, numbers) in &pages.jobs {
            let record = ExportedPages {
                export_id: pages.export_id.clone(),
                table: pages.table.clone(),
                pages: numbers.clone(),
            };
            write_json(self.sink(), &layout::exported_object(&pages.table, job_id, &pages.export_id), &record).await?;
        }
        let settled = ExportSettled { export_id: pages.export_id.clone(), written: true };
        write_json(self.sink(), &layout::export_settled(&pages.table, &pages.export_id), &settled).await?;
        Ok(())
    }

    /// Settles the exports of `table` a lost run left unsettled (see the module's doc); an
    /// export this database recorded as failed whose data was written is recorded succeeded.
    /// Answers whether one was completed (its pages' records are new in the log).
    pub(super) async fn settle_exports(&self, table: &str, keys: &[String]) -> anyhow::Result<bool> {
        let mut completed = false;
        for export_id in layout::unsettled_exports(keys, table) {
            let Some(intent) =
                read_json::<ExportIntent>(self.sink(), &layout::export_intent(table, &export_id)).await?
            else {
                continue;
            };
            let written = !self.sink().list(&intent.object_key).await?.is_empty();
            if written {
                let manifest = intent.manifest.clone().into_bytes();
                if let Err(e) = self.sink().put_bytes(&intent.manifest_key, manifest.into(), "application/json").await
                    && e.downcast_ref::<crate::destination::AlreadyExists>().is_none()
                {
                    return Err(e);
                }
                let pages = ExportPages { export_id: export_id.clone(), table: table.to_string(), jobs: intent.jobs };
                self.export_written(&pages).await?;
                let (id, t, object, manifest_key) = (
                    export_id.clone(),
                    table.to_string(),
                    self.sink().uri(&intent.object_key)?,
                    self.sink().uri(&intent.manifest_key)?,
                );
                self.store()
                    .record(move |conn| Ok(records::mark_export_written(conn, &id, &t, &object, &manifest_key)?))
                    .await?;
                tracing::warn!(export = %export_id, table, "an interrupted export's objects were written: it is completed");
                completed = true;
            } else {
                let settled = ExportSettled { export_id: export_id.clone(), written: false };
                write_json(self.sink(), &layout::export_settled(table, &export_id), &settled).await?;
                tracing::info!(export = %export_id, table, "an interrupted export wrote nothing: its pages are exported again");
            }
        }
        Ok(completed)
    }
}
