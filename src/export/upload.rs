//! Upload: a staged snapshot streamed to the sink create-only, checked, then its manifest; or,
//! for a part, the part an earlier attempt of the same task already exported.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::manifest::{self, Manifest};
use super::naming;
use super::request::Scope;
use super::staging::StagedSnapshot;
use crate::destination::Sink;
use crate::jobs::ExportedObject;

/// An export's objects, named and described before anything is written (the durable log
/// records them first: see `crate::durable`).
pub(super) struct Planned {
    pub key: String,
    pub manifest_key: String,
    /// The manifest, as it will be written.
    pub manifest: Vec<u8>,
}

/// Writes `staged` and then its manifest (readers take a manifest to mean the data is whole);
/// a part an earlier attempt of the task exported is answered instead.
pub(super) async fn upload(sink: &Sink, scope: &Scope, staged: &StagedSnapshot) -> anyhow::Result<ExportedObject> {
    if let Scope::Part { .. } = scope
        && let Some(earlier) =
            earlier_part(sink, &staged.table, &scope.stem(&staged.export_id), staged.created_at, staged.snapshot.rows)
                .await?
    {
        return Ok(earlier);
    }
    let planned = plan(sink, scope, staged)?;
    put(sink, staged, &planned).await
}

/// Names the objects of `staged` and writes its manifest's content.
pub(super) fn plan(sink: &Sink, scope: &Scope, staged: &StagedSnapshot) -> anyhow::Result<Planned> {
    let (table, snap) = (staged.table.as_str(), &staged.snapshot);
    let stem = scope.stem(&staged.export_id);
    let key = naming::parquet_key(table, &stem, staged.created_at);
    let manifest = Manifest {
        export_id: staged.export_id.clone(),
        table: table.to_string(),
        mode: scope.kind(),
        object: sink.uri(&key)?,
        rows: snap.rows,
        bytes: staged.bytes,
        crc32c: staged.crc32c,
        crc32c_base64: manifest::crc32c_base64(staged.crc32c),
        commit_from: snap.commit_from,
        commit_to: snap.commit_to,
        schema: snap.columns.iter().map(|(name, ty)| manifest::Column { name: name.clone(), ty: ty.clone() }).collect(),
        created_at: staged.created_at,
    };
    let manifest = serde_json::to_vec_pretty(&manifest).context("cannot encode the manifest")?;
    Ok(Planned { key, manifest_key: naming::manifest_key(table, &stem, staged.created_at), manifest })
}

/// Writes the planned objects: the data, checked, then its manifest.
pub(super) async fn put(sink: &Sink, staged: &StagedSnapshot, planned: &Planned) -> anyhow::Result<ExportedObject> {
    let written = sink.put_file(&planned.key, staged.path(), staged.crc32c, "application/vnd.apache.parquet").await?;
    anyhow::ensure!(
        written.bytes == staged.bytes && written.crc32c == staged.crc32c,
        "{} holds {} bytes with CRC32C {}, but {} bytes with CRC32C {} were sent",
        written.uri,
        written.bytes,
        written.crc32c,
        staged.bytes,
        staged.crc32c
    );
    let manifest_written =
        sink.put_bytes(&planned.manifest_key, planned.manifest.clone().into(), "application/json").await?;
    Ok(ExportedObject {
        table: staged.table.clone(),
        uri: written.uri,
        manifest_uri: manifest_written.uri,
        rows: staged.snapshot.rows,
        bytes: staged.bytes,
        crc32c: staged.crc32c,
    })
}

/// The part an earlier attempt of the same task exported, if its manifest is there (it is
/// written after the data, so the data is complete). Cloud Run Jobs retries a failed task
/// from scratch: it ingests the same pages again (same seeds, so the same records), and its
/// create-only upload would fail on the object the earlier attempt left, failing every retry.
async fn earlier_part(
    sink: &Sink,
    table: &str,
    stem: &str,
    created_at: DateTime<Utc>,
    rows: u64,
) -> anyhow::Result<Option<ExportedObject>> {
    // Today's folder, or yesterday's for an attempt that ran before midnight.
    let mut found = None;
    for day in [created_at, created_at - chrono::Duration::days(1)] {
        found = sink.get_bytes(&naming::manifest_key(table, stem, day)).await?;
        if found.is_some() {
            break;
        }
    }
    let Some((manifest_uri, body)) = found else { return Ok(None) };
    let manifest: Manifest =
        serde_json::from_slice(&body).with_context(|| format!("{manifest_uri} is not a duckhaul manifest"))?;
    anyhow::ensure!(
        manifest.table == table && manifest.rows == rows,
        "{manifest_uri} describes another part ({} rows of {}, where this task has {rows} rows of {table}); \
         it is left as it is",
        manifest.rows,
        manifest.table
    );
    tracing::info!(uri = %manifest.object, "this part was exported by an earlier attempt of the task");
    Ok(Some(ExportedObject {
        table: table.to_string(),
        uri: manifest.object,
        manifest_uri,
        rows: manifest.rows,
        bytes: manifest.bytes,
        crc32c: manifest.crc32c,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::LocalSink;
    use crate::export::staging::StagedFile;
    use crate::store::snapshot::Snapshot;

    /// A staged file of `contents` in `dir`, hashed as staging hashes it, and a local sink
    /// under `dir/exports`.
    fn staged(dir: &std::path::Path, name: &str, contents: &[u8]) -> (Sink, StagedSnapshot) {
        let sink = Sink::Local(LocalSink::new(&dir.join("exports")).unwrap());
        let path = dir.join(format!("{name}.parquet"));
        std::fs::write(&path, contents).unwrap();
        let snapshot =
            Snapshot { rows: 2, commit_from: 0, commit_to: 1, columns: vec![("id".into(), "BIGINT".into())] };
        let staged =
            StagedSnapshot::hashed(name.into(), "users".into(), Utc::now(), snapshot, StagedFile(path)).unwrap();
        (sink, staged)
    }

    /// Every file under `dir`, relative to it.
    fn files(dir: &std::path::Path) -> Vec<String> {
        let mut found = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                match path.is_dir() {
                    true => todo.push(path),
                    false => found.push(path.strip_prefix(dir).unwrap().display().to_string()),
                }
            }
        }
        found.sort();
        found
    }

    #[tokio::test]
    async fn a_local_upload_answers_what_its_folder_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, staged) = staged(dir.path(), "e1", b"PAR1 two rows PAR1");

        let object = upload(&sink, &Scope::Snapshot, &staged).await.unwrap();

        assert_eq!((object.bytes, object.crc32c), (18, crc32c::crc32c(b"PAR1 two rows PAR1")));
        assert_eq!(std::fs::read(&object.uri).unwrap(), b"PAR1 two rows PAR1");
        let manifest: Manifest = serde_json::from_slice(&std::fs::read(&object.manifest_uri).unwrap()).unwrap();
        assert_eq!((manifest.bytes, manifest.crc32c), (object.bytes, object.crc32c));
    }

    #[tokio::test]
    async fn a_local_copy_that_differs_from_the_staged_file_fails_the_upload_and_gets_no_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, staged) = staged(dir.path(), "e2", b"PAR1 two rows PAR1");
        // The file changes between its hashing and its copy: the sink writes other bytes.
        std::fs::write(staged.path(), b"PAR1 two r0ws PAR1").unwrap();

        let err = upload(&sink, &Scope::Snapshot, &staged).await.expect_err("the copy differs from what was staged");

        let (sent, held) = (crc32c::crc32c(b"PAR1 two rows PAR1"), crc32c::crc32c(b"PAR1 two r0ws PAR1"));
        assert_ne!(sent, held);
        assert!(
            err.to_string()
                .ends_with(&format!("holds 18 bytes with CRC32C {held}, but 18 bytes with CRC32C {sent} were sent")),
            "{err:#}"
        );
        let written = files(&dir.path().join("exports"));
        assert_eq!(written.len(), 1, "the data file, and no manifest: {written:?}");
        assert!(written[0].ends_with("e2.parquet"), "{written:?}");
    }
}
