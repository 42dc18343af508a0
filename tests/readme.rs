//! The README documents every built-in table's schema exactly as duckhaul creates it, and ARCHITECTURE.md
//! maps every module of `src/`.

use duckhaul::catalog::Resource;
use duckhaul::store::schema::table_ddl;

#[test]
fn the_readme_shows_every_table_schema_as_created() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut missing = Vec::new();
    for resource in Resource::ALL {
        let Some(schema) = resource.schema() else { continue };
        let ddl = table_ddl(resource.name(), schema);
        if !readme.contains(&ddl) {
            missing.push(ddl);
        }
    }
    assert!(
        missing.is_empty(),
        "README.md lacks (or has stale) schemas; paste these into its Table schemas section:\n\n{}",
        missing.join(";\n\n")
    );
}

/// ARCHITECTURE.md's module map has a row per top-level module of `src/`, and names no `src/`
/// entry that is gone: a module added, renamed or removed makes one of these fail.
mod architecture {
    use std::collections::BTreeSet;
    use std::path::Path;

    const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

    fn architecture() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ARCHITECTURE.md"))
            .expect("ARCHITECTURE.md is readable")
    }

    /// Every top-level module of `src/`, read at test time: the stem of each `*.rs` file but the
    /// crate roots, and each folder.
    fn top_level_modules() -> BTreeSet<String> {
        let mut modules = BTreeSet::new();
        for entry in std::fs::read_dir(SRC).expect("src/ is readable") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                modules.insert(name);
            } else if let Some(stem) = name.strip_suffix(".rs")
                && stem != "main"
                && stem != "lib"
            {
                modules.insert(stem.to_string());
            }
        }
        modules
    }

    #[test]
    fn the_architecture_has_a_row_for_every_module_of_src() {
        let text = architecture();
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| `src/")).collect();
        let missing: Vec<String> = top_level_modules()
            .into_iter()
            .filter(|m| {
                let (folder, file) = (format!("| `src/{m}/`"), format!("| `src/{m}.rs`"));
                !rows.iter().any(|r| r.starts_with(&folder) || r.starts_with(&file))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "ARCHITECTURE.md's module map has no row for {missing:?}: add a table row starting with \"| `src/<name>/`\" \
             (a folder) or \"| `src/<name>.rs`\" (a file) that says what the module owns"
        );
    }

    /// The top-level entry of `src/` each `src/...` path in the text names, as written
    /// (`src/jobs/` for `src/jobs/registry.rs`), with whether it exists. Only the top level is
    /// checked: files inside a module are the module's to rename.
    fn named_entries(text: &str) -> BTreeSet<(String, bool)> {
        let path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
        let mut named = BTreeSet::new();
        for (at, _) in text.match_indices("src/") {
            // `src/` as the start of a path, not inside another word or path.
            if text[..at].chars().next_back().is_some_and(path_char) {
                continue;
            }
            let path: String = text[at + 4..].chars().take_while(|&c| path_char(c)).collect();
            let (top, folder) = match path.split_once('/') {
                Some((top, _)) => (top, true),
                None => (path.trim_end_matches('.'), false),
            };
            if top.is_empty() {
                continue; // `src/` itself, or a pattern such as `src/<name>`
            }
            let entry = Path::new(SRC).join(top);
            let exists = if folder { entry.is_dir() } else { entry.exists() || entry.with_extension("rs").is_file() };
            named.insert((format!("src/{top}{}", if folder { "/" } else { "" }), exists));
        }
        named
    }

    #[test]
    fn the_architecture_names_only_src_entries_that_exist() {
        let named = named_entries(&architecture());
        assert!(named.len() > 15, "ARCHITECTURE.md names too few src/ entries to be its module map: {named:?}");
        let gone: Vec<String> = named.into_iter().filter(|(_, exists)| !exists).map(|(entry, _)| entry).collect();
        assert!(
            gone.is_empty(),
            "ARCHITECTURE.md names src/ entries that do not exist: {gone:?}; rename or remove them (only the top level of \
             src/ is checked: `src/<name>.rs` must be a file, `src/<name>/...` a folder)"
        );
    }
}
