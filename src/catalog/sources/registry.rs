//! The sources a process knows: the built-in `faker` is not among them (it has its own
//! hand-tuned path), every file of `DUCKHAUL_SOURCES_DIR` is, by its stem.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{Source, SourceError, load_dir};

/// The sources loaded at start, by name; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    by_name: Arc<BTreeMap<String, Arc<Source>>>,
}

impl Sources {
    pub fn new(sources: Vec<Source>) -> Sources {
        Sources { by_name: Arc::new(sources.into_iter().map(|s| (s.name.clone(), Arc::new(s))).collect()) }
    }

    /// Every file of `dir` (none without one); the first bad file is the error.
    pub fn load(dir: Option<&Path>) -> Result<Sources, SourceError> {
        match dir {
            Some(dir) => Ok(Sources::new(load_dir(dir)?)),
            None => Ok(Sources::default()),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Source>> {
        self.by_name.get(name)
    }

    /// In name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Source>> {
        self.by_name.values()
    }

    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}
