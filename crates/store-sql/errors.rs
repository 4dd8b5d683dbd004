//! How a database error reaches the use cases: unreachable or restarting databases are
//! `Unavailable` (the client may retry), everything else is `Backend`.

use picshare_store::StoreError;

pub(crate) fn db_err(err: sqlx::Error) -> StoreError {
    if is_unavailable(&err) {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::backend(err)
    }
}

fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of a server that is away or going away (connection exceptions,
/// shutdowns, "the database system is starting up", too many connections, a database not
/// accepting connections, 55000 — which the queries here raise for nothing else) and SQLite's
/// "database is busy/locked" once its busy timeout has passed.
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "55000")
        || matches!(code, "5" | "6" | "261" | "262" | "517")
}

#[cfg(test)]
mod tests {
    use super::unavailable_code;

    #[test]
    fn shutdowns_and_connection_failures_are_unavailable_and_constraint_errors_are_not() {
        for code in ["08006", "08001", "57P01", "57P03", "53300", "5", "517"] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "23503", "40001", "42P01", "19", "2067"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }
}
