//! Recognising database URLs among roots: needs no database client, so it is compiled with or
//! without the PostgreSQL backend (cargo feature `pg`), and a `postgresql://` root is refused
//! clearly instead of being taken for a directory when that backend is not built.

/// True if `root` is a PostgreSQL connection URL (`postgresql://` or `postgres://`) rather
/// than a directory.
pub fn is_dsn(root: &str) -> bool {
    root.starts_with("postgresql://") || root.starts_with("postgres://")
}

/// The DSN with any password replaced by `***` (for messages).
pub fn redact(dsn: &str) -> String {
    if let Some(rest) = dsn.split_once("://").map(|(_, r)| r) {
        if let Some((auth, _)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return dsn.replacen(auth, &format!("{user}:***"), 1);
            }
        }
    }
    dsn.to_string()
}
