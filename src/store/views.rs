//! SQL views from a folder of `.sql` files (DUCKHAUL_VIEWS_DIR): transformations written in
//! SQL, kept beside the data and exported exactly like tables.
//!
//! Each file `NAME.sql` holds one statement, `CREATE [OR REPLACE] VIEW NAME AS SELECT ...`,
//! where NAME is the file's name and a valid table name (lower-case letters, digits, `_`),
//! neither a resource's table nor one of duckhaul's. At start every view is (re)created, so an
//! edited file takes effect on the next start; a view whose file is gone is dropped. A view
//! over a table that does not exist yet waits, and is created once an ingest creates a table
//! (`Store::ensure_table`). Views are recorded in `duckhaul_tables` with the resource `view`,
//! which is how `/status` lists them and exports find them; each is created, or dropped, in
//! one transaction with its row.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use duckdb::{Connection, params};

use crate::catalog::{Resource, is_identifier, quote_ident};

use super::schema::META_PREFIX;
use super::{Store, StoreError, Unavailable};

/// The resource name views are recorded under in `duckhaul_tables`.
pub const VIEW_RESOURCE: &str = "view";

/// One view, as read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDef {
    pub name: String,
    /// The query after `AS`.
    pub query: String,
    pub file: PathBuf,
}

impl ViewDef {
    fn create_sql(&self) -> String {
        format!("CREATE OR REPLACE VIEW {} AS {}", quote_ident(&self.name), self.query)
    }
}

/// Reads every `*.sql` file of `dir`, in name order; any file that is not one valid view
/// definition is an error naming the file.
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<ViewDef>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("DUCKHAUL_VIEWS_DIR {} cannot be read", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sql") && p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            parse(&file, &text).with_context(|| format!("view file {}", file.display()))
        })
        .collect()
}

/// Parses one file: one `CREATE [OR REPLACE] VIEW name AS query` statement.
pub fn parse(file: &Path, text: &str) -> anyhow::Result<ViewDef> {
    let statements = split_statements(text);
    let statement = match statements.as_slice() {
        [one] => one.trim(),
        [] => bail!("is empty; write CREATE VIEW name AS SELECT ..."),
        _ => bail!("holds {} statements; write exactly one CREATE VIEW per file", statements.len()),
    };
    let head = statement.trim_start();
    let upper = head.to_ascii_uppercase();
    let rest = if upper.starts_with("CREATE OR REPLACE VIEW ") {
        &head["CREATE OR REPLACE VIEW ".len()..]
    } else if upper.starts_with("CREATE VIEW ") {
        &head["CREATE VIEW ".len()..]
    } else {
        bail!("must be CREATE VIEW name AS SELECT ..., got: {}", first_line(statement));
    };
    let rest = rest.trim_start();
    let (raw_name, after) = match rest.strip_prefix('"') {
        Some(quoted) => {
            let end = quoted.find('"').context("an unterminated quoted view name")?;
            (&quoted[..end], &quoted[end + 1..])
        }
        None => {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        }
    };
    let after = after.trim_start();
    if !after.to_ascii_uppercase().starts_with("AS") || !after[2..].starts_with(char::is_whitespace) {
        bail!("expected AS after the view name {raw_name}");
    }
    let query = after[2..].trim().to_string();
    anyhow::ensure!(!query.is_empty(), "the view {raw_name} has no query after AS");

    let name = raw_name.to_string();
    if !is_identifier(&name) {
        bail!(
            "'{name}' is not a valid view name: a lower-case letter, then lower-case letters, digits or '_' (at most 63)"
        );
    }
    if name.starts_with(META_PREFIX) {
        bail!("names starting with {META_PREFIX} are reserved for duckhaul's own tables");
    }
    if Resource::from_name(&name).is_some() {
        bail!("'{name}' is the table of the {name} resource; name the view otherwise");
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if stem != name {
        bail!("defines the view {name}: name the file {name}.sql, so each view has one file");
    }
    Ok(ViewDef { name, query, file: file.to_path_buf() })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Splits SQL on `;` outside quotes and comments; drops comments and empty statements.
fn split_statements(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                current.push(c);
                for d in chars.by_ref() {
                    current.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
                current.push(' ');
            }
            ';' => statements.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    statements.push(current);
    statements.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// What creating the views did.
#[derive(Debug, Default)]
pub struct Applied {
    pub created: Vec<String>,
    /// Views over tables that do not exist yet, with DuckDB's reason.
    pub waiting: Vec<(ViewDef, String)>,
}

/// Refuses a view named like a table, then drops the recorded views not in `defs`, each with
/// its `duckhaul_tables` row. Run in one transaction (`Store::record`).
fn drop_others(conn: &Connection, defs: &[ViewDef]) -> anyhow::Result<()> {
    let recorded: Vec<(String, String)> = conn
        .prepare("SELECT name, resource FROM duckhaul_tables")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for def in defs {
        if let Some((_, resource)) = recorded.iter().find(|(n, r)| n == &def.name && r != VIEW_RESOURCE) {
            bail!(
                "view file {}: {} is already a table (of {resource}); name the view otherwise",
                def.file.display(),
                def.name
            );
        }
    }
    for (name, resource) in &recorded {
        if resource == VIEW_RESOURCE && !defs.iter().any(|d| &d.name == name) {
            conn.execute_batch(&format!("DROP VIEW IF EXISTS {}", quote_ident(name)))?;
            conn.execute("DELETE FROM duckhaul_tables WHERE name = ?", params![name])?;
            tracing::info!(view = name, "view dropped: its file is gone");
        }
    }
    Ok(())
}

/// Creates one view and records it. Run in one transaction (`Store::record`).
fn create(conn: &Connection, def: &ViewDef) -> duckdb::Result<()> {
    conn.execute_batch(&def.create_sql())?;
    conn.execute(
        "INSERT OR REPLACE INTO duckhaul_tables (name, resource, ddl, created_at) VALUES (?, ?, ?, now())",
        params![def.name, VIEW_RESOURCE, def.create_sql()],
    )?;
    Ok(())
}

impl Store {
    /// Creates the SQL views `defs` and drops recorded views that are not among them. Views
    /// over tables that do not exist yet wait: `ensure_table` tries them again when a table
    /// is created.
    pub async fn apply_views(&self, defs: Vec<ViewDef>) -> anyhow::Result<()> {
        let given = defs.clone();
        self.record(move |conn| drop_others(conn, &given)).await?;
        let applied = self.create_views(defs).await?;
        self.note_views(applied);
        Ok(())
    }

    /// Creates the views waiting for a table, now that one was created.
    pub(super) async fn create_waiting_views(&self) {
        let waiting = std::mem::take(&mut *self.waiting_views.lock().expect("views lock poisoned"));
        if waiting.is_empty() {
            return;
        }
        match self.create_views(waiting).await {
            Ok(applied) => self.note_views(applied),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "a waiting view cannot be created"),
        }
    }

    /// Creates `defs`, each in its own transaction, in as many passes as their dependencies
    /// on each other need (views may use each other, in any file order); a view that names a
    /// missing table waits, any other error is returned.
    async fn create_views(&self, defs: Vec<ViewDef>) -> anyhow::Result<Applied> {
        let mut applied = Applied::default();
        let mut todo = defs;
        // Each pass creates every view whose inputs exist; stop when a pass creates none.
        loop {
            let before = todo.len();
            let mut waiting = Vec::new();
            for def in todo {
                let one = def.clone();
                match self.record(move |conn| Ok(create(conn, &one)?)).await {
                    Ok(()) => applied.created.push(def.name.clone()),
                    Err(e) if e.is::<Unavailable>() => return Err(e),
                    Err(e) => match StoreError::classify(&e) {
                        StoreError::MissingTable(_) => waiting.push((def, e.to_string())),
                        _ => bail!("view file {}: DuckDB refused it: {e}", def.file.display()),
                    },
                }
            }
            if waiting.is_empty() || waiting.len() == before {
                applied.waiting = waiting;
                return Ok(applied);
            }
            todo = waiting.into_iter().map(|(d, _)| d).collect();
        }
    }

    fn note_views(&self, applied: Applied) {
        for name in &applied.created {
            tracing::info!(view = name, "view created");
        }
        for (def, reason) in &applied.waiting {
            tracing::warn!(view = def.name, reason, "view waits for a table it reads");
        }
        *self.waiting_views.lock().expect("views lock poisoned") =
            applied.waiting.into_iter().map(|(d, _)| d).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(file: &str, text: &str) -> anyhow::Result<ViewDef> {
        parse(Path::new(file), text)
    }

    #[test]
    fn one_create_view_per_file_named_like_the_file() {
        let v = parse_text(
            "v/daily.sql",
            "-- per day\ncreate or replace view daily as\n  SELECT 1 AS \"x;y\", ';' AS s;\n",
        )
        .unwrap();
        assert_eq!(v.name, "daily");
        assert_eq!(v.query, "SELECT 1 AS \"x;y\", ';' AS s");
        let v = parse_text("v/q.sql", "/* quoted */ CREATE VIEW \"q\" AS SELECT 2").unwrap();
        assert_eq!((v.name.as_str(), v.query.as_str()), ("q", "SELECT 2"));
        for (file, text, why) in [
            ("v/a.sql", "", "empty"),
            ("v/a.sql", "CREATE VIEW a AS SELECT 1; CREATE VIEW b AS SELECT 2;", "2 statements"),
            ("v/a.sql", "CREATE TABLE a AS SELECT 1", "must be CREATE VIEW"),
            ("v/A.sql", "CREATE VIEW A AS SELECT 1", "not a valid view name"),
            ("v/users.sql", "CREATE VIEW users AS SELECT 1", "resource"),
            ("v/duckhaul_x.sql", "CREATE VIEW duckhaul_x AS SELECT 1", "reserved"),
            ("v/b.sql", "CREATE VIEW a AS SELECT 1", "name the file a.sql"),
            ("v/a.sql", "CREATE VIEW a SELECT 1", "expected AS"),
        ] {
            let e = format!("{:#}", parse_text(file, text).unwrap_err());
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }
}
