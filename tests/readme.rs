//! The README documents every built-in table's schema exactly as duckhaul creates it; ARCHITECTURE.md
//! maps every module of `src/` and says which way the imports between them run; and no file of
//! `src/` grows past 500 lines outside its tests.

#[path = "support/rust_source.rs"]
mod rust_source;

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

    use super::rust_source::SRC;

    pub fn architecture() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ARCHITECTURE.md"))
            .expect("ARCHITECTURE.md is readable")
    }

    /// Every top-level module of `src/`, read at test time: the stem of each `*.rs` file but the
    /// crate roots, and each folder.
    pub fn top_level_modules() -> BTreeSet<String> {
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

/// ARCHITECTURE.md's arrows table says which top-level modules each one may import (`use
/// crate::…`, `crate::x::` paths, `duckhaul::` in the binary; tests aside), read from the files
/// at test time: a new import the table does not allow fails, and so does any circle of imports
/// between top-level modules.
mod arrows {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::architecture::{architecture, top_level_modules};
    use super::rust_source::{SRC, files_under};

    type Graph = BTreeMap<String, BTreeSet<String>>;

    /// The table under "## Arrows": each module its first cell names (in backticks), with the
    /// modules its second cell lists (words in parentheses are remarks; `nothing` is none).
    fn table() -> Graph {
        let text = architecture();
        let section = text.split("\n## Arrows\n").nth(1).expect("ARCHITECTURE.md has an \"## Arrows\" section");
        let section = section.split("\n## ").next().unwrap();
        let mut rows = section.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| ---"));
        rows.next().expect("the arrows table has a header row");
        let mut table = Graph::new();
        for row in rows {
            let cells: Vec<&str> = row.split('|').collect();
            assert!(cells.len() >= 3, "not a row of two cells: {row}");
            let mut allowed = BTreeSet::new();
            for name in without_remarks(cells[2]).split(',') {
                let name = name.trim().trim_matches(|c| c == '*' || c == '`');
                if !name.is_empty() && name != "nothing" {
                    allowed.insert(name.to_string());
                }
            }
            let modules = cells[1]
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            for module in modules {
                table.insert(module.to_string(), allowed.clone());
            }
        }
        table
    }

    /// `cell` without its parenthesised remarks.
    fn without_remarks(cell: &str) -> String {
        let mut depth = 0;
        cell.chars()
            .filter(|&c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => return depth == 0,
                }
                false
            })
            .collect()
    }

    /// The top-level modules each top-level module imports, from its files (tests aside), and
    /// what the binary (`main`) imports through the library's name.
    fn imports() -> Graph {
        let modules = top_level_modules();
        let mut graph = Graph::new();
        for file in files_under(Path::new(SRC)) {
            if file.top_level() == "lib" {
                continue;
            }
            let imported = file.imports(&modules, "duckhaul");
            graph.entry(file.top_level().to_string()).or_default().extend(imported);
        }
        graph
    }

    #[test]
    fn the_arrows_table_has_a_row_for_every_module_and_names_only_modules() {
        let table = table();
        let mut known = top_level_modules();
        known.insert("main".to_string());
        let rowless: Vec<&String> = known.iter().filter(|m| !table.contains_key(*m)).collect();
        let unknown: Vec<&String> =
            table.iter().flat_map(|(m, to)| std::iter::once(m).chain(to)).filter(|m| !known.contains(*m)).collect();
        assert!(rowless.is_empty(), "ARCHITECTURE.md's arrows table has no row for {rowless:?}");
        assert!(unknown.is_empty(), "ARCHITECTURE.md's arrows table names modules src/ does not have: {unknown:?}");
    }

    #[test]
    fn every_module_imports_only_what_the_arrows_table_allows() {
        let (table, imports) = (table(), imports());
        // The reading itself: the binary starts the application, `run` builds on `app`.
        assert!(imports["main"].contains("app") && imports["run"].contains("app"), "imports read: {imports:?}");
        let mut outside = Vec::new();
        for (module, imported) in &imports {
            let allowed = table.get(module).cloned().unwrap_or_default();
            for to in imported.difference(&allowed) {
                outside.push(format!("{module} → {to}"));
            }
        }
        assert!(
            outside.is_empty(),
            "src/ has imports ARCHITECTURE.md's arrows table does not allow: {outside:?}; either the import goes \
             against the layers (move the item it needs down, or below both modules), or the arrow is sound \
             and the table's row should list it"
        );
    }

    #[test]
    fn no_top_level_modules_import_each_other_around_a_circle() {
        let imports = imports();
        if let Some(circle) = circle(&imports) {
            panic!(
                "top-level modules of src/ import each other around a circle: {}; move what one of them needs \
                 into the lower module, or into a module below both",
                circle.join(" → ")
            );
        }
        // The search itself finds one.
        let looped: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
            .into_iter()
            .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
            .collect();
        assert_eq!(circle(&looped).unwrap().join(" → "), "a → b → c → a");
    }

    /// A circle in `graph` (its first module repeated at its end), if there is one.
    fn circle(graph: &Graph) -> Option<Vec<String>> {
        fn visit(
            node: &str,
            graph: &Graph,
            done: &mut BTreeSet<String>,
            path: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|n| n == node) {
                let mut circle = path[at..].to_vec();
                circle.push(node.to_string());
                return Some(circle);
            }
            if done.contains(node) {
                return None;
            }
            path.push(node.to_string());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(circle) = visit(next, graph, done, path) {
                    return Some(circle);
                }
            }
            path.pop();
            done.insert(node.to_string());
            None
        }
        let mut done = BTreeSet::new();
        graph.keys().find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
    }
}

/// Files of one concept each: no file of `src/` is over 500 lines, not counting an inline
/// `#[cfg(test)]` module (nor a test module kept in a file of its own).
#[test]
fn no_file_of_src_is_over_500_lines_outside_its_tests() {
    const MAX_LINES: usize = 500;
    let files = rust_source::files_under(std::path::Path::new(rust_source::SRC));
    assert!(files.len() > 50, "too few files read under src/: {}", files.len());
    let long: Vec<String> = files
        .iter()
        .map(|f| (f.path.as_str(), f.lines_outside_tests()))
        .filter(|&(_, lines)| lines > MAX_LINES)
        .map(|(path, lines)| format!("src/{path}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines outside their tests: {long:?}; split each into files that own one concept"
    );
}
