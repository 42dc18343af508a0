//! The local-folder sink (the default destination, `./exports`).
//!
//! Files are written beside their final name and then hard-linked into place: the link is
//! atomic and fails if the name exists, so readers never see a partial file and an export
//! never overwrites one. What a put answers (size, CRC32C) is read back from the file at its
//! place, not taken from the caller, so the export's check of it can fail.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;

use super::{ObjectWritten, file_crc32c};

pub struct LocalSink {
    root: PathBuf,
}

impl LocalSink {
    pub fn new(root: &Path) -> anyhow::Result<LocalSink> {
        std::fs::create_dir_all(root).with_context(|| format!("cannot create the export folder {}", root.display()))?;
        let root = root.canonicalize().with_context(|| format!("cannot resolve {}", root.display()))?;
        Ok(LocalSink { root })
    }

    /// The path `key` is (or would be) written to.
    pub fn uri(&self, key: &str) -> anyhow::Result<String> {
        Ok(key_path(&self.root, key)?.display().to_string())
    }

    pub fn describe(&self) -> String {
        self.root.display().to_string()
    }

    /// Copies `path` to `key`, failing if `key` exists; answers the size and CRC32C of the file
    /// at `key`, read back, so that a copy that differs from the staged file shows.
    pub async fn put_file(&self, key: &str, path: &Path) -> anyhow::Result<ObjectWritten> {
        let (root, key, path) = (self.root.clone(), key.to_string(), path.to_path_buf());
        tokio::task::spawn_blocking(move || {
            place(&root, &key, |tmp| {
                std::fs::copy(&path, tmp).with_context(|| format!("cannot copy {}", path.display()))?;
                Ok(())
            })
        })
        .await?
    }

    /// Writes `bytes` to `key`, failing if `key` exists; answers what the file at `key` holds.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> anyhow::Result<ObjectWritten> {
        let (root, key) = (self.root.clone(), key.to_string());
        tokio::task::spawn_blocking(move || {
            place(&root, &key, |tmp| {
                let mut f = std::fs::File::create(tmp)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                Ok(())
            })
        })
        .await?
    }
}

impl LocalSink {
    /// The bytes of a small file at `key` (a manifest) and where it is, or None if there is none.
    pub async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<(String, Bytes)>> {
        let path = key_path(&self.root, key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some((path.display().to_string(), bytes.into()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
        }
    }
}

impl LocalSink {
    /// The keys of the files under the folder `key_prefix` (which ends in `/`), files being
    /// written (`.name.partial-…`) left out.
    pub async fn list(&self, key_prefix: &str) -> anyhow::Result<Vec<String>> {
        let root = self.root.clone();
        let folder = key_prefix.trim_end_matches('/').to_string();
        tokio::task::spawn_blocking(move || {
            let start = if folder.is_empty() { root.clone() } else { key_path(&root, &folder)? };
            let mut keys = Vec::new();
            let mut todo = vec![start];
            while let Some(dir) = todo.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot list {}", dir.display()))),
                };
                for entry in entries {
                    let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
                    let path = entry.path();
                    if entry.file_type()?.is_dir() {
                        todo.push(path);
                    } else if !entry.file_name().to_string_lossy().starts_with('.') {
                        let key = path.strip_prefix(&root).expect("listed under the root");
                        keys.push(key.to_string_lossy().into_owned());
                    }
                }
            }
            Ok(keys)
        })
        .await?
    }
}

/// Where `key` is under `root`; a key that could leave `root` is refused.
fn key_path(root: &Path, key: &str) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(!key.split('/').any(|p| p.is_empty() || p == "." || p == ".."), "bad object key {key}");
    Ok(root.join(key))
}

/// Writes a file with `write` beside `key`'s place, links it there, and reads back its size and
/// CRC32C from that place.
fn place(root: &Path, key: &str, write: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<ObjectWritten> {
    let dest = key_path(root, key)?;
    let dir = dest.parent().expect("a key has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".{}.partial-{}", dest.file_name().unwrap().to_string_lossy(), uuid::Uuid::new_v4()));
    let result = write(&tmp).and_then(|_| {
        std::fs::hard_link(&tmp, &dest).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::Error::new(super::AlreadyExists { uri: dest.display().to_string() })
            } else {
                anyhow::Error::new(e).context(format!("cannot create {}", dest.display()))
            }
        })
    });
    let _ = std::fs::remove_file(&tmp);
    result?;
    let (bytes, crc32c) = file_crc32c(&dest)?;
    Ok(ObjectWritten { uri: dest.display().to_string(), bytes, crc32c })
}
