//! One way to run statements in a transaction, for the writer's commits, bookkeeping writes,
//! views and snapshots alike.

use duckdb::Connection;

/// Runs `f` in one transaction on `conn`: committed when `f` succeeds, rolled back when it
/// fails. A COMMIT that fails is the call's error (DuckDB checks conflicts and writes the WAL
/// at commit, so that is where a full disk or a conflicting write shows).
pub fn in_transaction<T, E>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
where
    E: From<duckdb::Error>,
{
    conn.execute_batch("BEGIN TRANSACTION")?;
    match f(conn) {
        Ok(value) => match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(e) => {
                // Ends the transaction if the failed commit left it open; an error here only
                // says there was none left.
                let _ = conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)").unwrap();
        conn
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn success_commits_and_failure_rolls_back() {
        let conn = conn();
        in_transaction(&conn, |c| c.execute_batch("INSERT INTO t VALUES (1)")).unwrap();
        let failed: duckdb::Result<()> = in_transaction(&conn, |c| {
            c.execute_batch("INSERT INTO t VALUES (2)")?;
            c.execute_batch("INSERT INTO t VALUES (1)")
        });
        assert!(failed.is_err());
        assert_eq!(count(&conn), 1, "the failed transaction left nothing");
        // The connection is usable again: no transaction was left open.
        in_transaction(&conn, |c| c.execute_batch("INSERT INTO t VALUES (3)")).unwrap();
        assert_eq!(count(&conn), 2);
    }

    #[test]
    fn a_commit_that_fails_is_an_error_and_leaves_nothing() {
        let a = conn();
        let other = a.try_clone().unwrap();
        a.execute_batch("BEGIN TRANSACTION; INSERT INTO t VALUES (9)").unwrap();
        // Both insert key 9; `a` commits first, inside the closure, so the conflict shows at
        // the closure's own COMMIT, which must not pass for success.
        let second: duckdb::Result<()> = in_transaction(&other, |c| {
            c.execute_batch("INSERT INTO t VALUES (9), (10)")?;
            a.execute_batch("COMMIT")
        });
        assert!(second.is_err(), "a conflicting commit must not look committed");
        assert_eq!(count(&a), 1, "only the first transaction's row stays");
        in_transaction(&other, |c| c.execute_batch("INSERT INTO t VALUES (11)")).unwrap();
        assert_eq!(count(&a), 2);
    }
}
