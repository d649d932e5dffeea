//! `hurah migrate <dsn>` against the test server. The other verbs on a `postgresql://` root run
//! in tests/cli.rs, where each scenario runs on both backends.

#[path = "../../tests/pg_support/mod.rs"]
mod pg_support;

use std::process::Command;

fn hurah(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hurah"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_creates_then_reports_up_to_date() {
    let db = pg_support::TestDb::new();
    let (code, out, err) = hurah(&["migrate", &db.dsn]);
    assert_eq!(code, 0, "{err}");
    let latest = hurah::pg::MIGRATIONS.last().unwrap().0;
    assert!(
        out.contains(&format!("from version 0 to {latest}")),
        "{out}"
    );
    let (code, out, _) = hurah(&["migrate", &db.dsn, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["applied"], serde_json::json!([]));
    let mut c = db.client();
    let n: i64 = c
        .query_one("SELECT count(*) FROM hurah.migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, hurah::pg::MIGRATIONS.len() as i64);
}

#[test]
fn migrate_errors_name_the_problem() {
    let (code, _, err) = hurah(&["migrate", "postgresql://postgres@127.0.0.1:1/x"]);
    assert_eq!(code, 76, "database error: {err}");
    assert!(
        err.contains("127.0.0.1:1") && err.contains("refused"),
        "{err}"
    );
    let (code, _, err) = hurah(&["migrate", "/tmp/not-a-dsn"]);
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = hurah(&["migrate", "postgresql://u:pw@h:notaport/d"]);
    assert_eq!(code, 64, "{err}");
    assert!(!err.contains(":pw@"), "password redacted: {err}");
}
