//! Multi-row `INSERT`s. Besides its rows, every statement has a fixed cost — the statement
//! cache's lookup by SQL text, binding, opening cursors, halting and resetting — which a profile
//! of a large batch found to be a large share of the store's time when each row was its own
//! statement (BENCHMARKS.md, "Figures behind design choices"). So a run of rows for one table
//! goes in statements of [`ROWS`] rows each.

use std::fmt::Write as _;

use rusqlite::{Connection, Statement};

/// Rows per statement. The widest row (audit) has 8 values: 512 parameters, far below
/// `SQLite`'s limit of 32,766.
pub(crate) const ROWS: usize = 64;

/// `INSERT INTO {into} VALUES (?, …), …` with `n` rows of `width` values.
pub(crate) fn insert_sql(into: &str, width: usize, n: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    let mut sql = format!("INSERT INTO {into} VALUES ");
    for i in 0..n {
        let _ = write!(sql, "{}{row}", if i == 0 { "" } else { ", " });
    }
    sql
}

/// Inserts `rows`: [`ROWS`] per statement with `many`, the rest one at a time with `one`.
/// `bind` binds one row's values from parameter index `first` on. Fails unless every row was
/// inserted.
pub(crate) fn insert<T>(
    conn: &Connection,
    (many, one): (&str, &str),
    width: usize,
    rows: &[T],
    bind: impl Fn(&mut Statement<'_>, usize, &T) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let full = rows.len() / ROWS * ROWS;
    let (chunked, rest) = rows.split_at(full);
    if !chunked.is_empty() {
        let mut stmt = conn.prepare_cached(many)?;
        for chunk in chunked.chunks(ROWS) {
            for (i, row) in chunk.iter().enumerate() {
                bind(&mut stmt, 1 + i * width, row)?;
            }
            expect_rows(stmt.raw_execute()?, chunk.len())?;
        }
    }
    if !rest.is_empty() {
        let mut stmt = conn.prepare_cached(one)?;
        for row in rest {
            bind(&mut stmt, 1, row)?;
            expect_rows(stmt.raw_execute()?, 1)?;
        }
    }
    Ok(())
}

fn expect_rows(inserted: usize, expected: usize) -> rusqlite::Result<()> {
    if inserted == expected {
        Ok(())
    } else {
        Err(rusqlite::Error::StatementChangedRows(inserted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_has_one_parameter_per_value() {
        assert_eq!(
            insert_sql("t (a, b)", 2, 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }

    #[test]
    fn every_row_goes_in_whatever_the_count() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
            .unwrap();
        let many = insert_sql("t (a, b)", 2, ROWS);
        let one = insert_sql("t (a, b)", 2, 1);
        for n in [0, 1, ROWS - 1, ROWS, 2 * ROWS + 3] {
            conn.execute("DELETE FROM t", []).unwrap();
            let rows: Vec<i64> = (0..i64::try_from(n).unwrap()).collect();
            insert(&conn, (&many, &one), 2, &rows, |stmt, first, a| {
                stmt.raw_bind_parameter(first, a)?;
                stmt.raw_bind_parameter(first + 1, a.to_string())
            })
            .unwrap();
            let count: i64 = conn
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            assert_eq!(count, i64::try_from(n).unwrap());
            let sum: i64 = conn
                .query_row(
                    "SELECT coalesce(sum(a + 0 * length(b)), 0) FROM t",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(sum, rows.iter().sum::<i64>());
        }
    }

    #[test]
    fn a_conflict_fails_the_statement() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY)")
            .unwrap();
        let (many, one) = (insert_sql("t (a)", 1, ROWS), insert_sql("t (a)", 1, 1));
        let rows = vec![7_i64; ROWS];
        let err = insert(&conn, (&many, &one), 1, &rows, |stmt, first, a| {
            stmt.raw_bind_parameter(first, a)
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("UNIQUE constraint failed"),
            "{err}"
        );
    }
}
