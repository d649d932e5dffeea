//! A throw-away database on the test server for each test: `CREATE DATABASE` on the server
//! named by `HURAH_TEST_PG` (default `postgresql://postgres@127.0.0.1:5432/postgres`), dropped
//! when the guard goes. Never a mock.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

pub fn admin_dsn() -> String {
    std::env::var("HURAH_TEST_PG")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".into())
}

/// `dsn` with its database replaced by `db`.
pub fn with_db(dsn: &str, db: &str) -> String {
    let (base, query) = match dsn.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (dsn, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{prefix}/{db}{query}")
}

pub struct TestDb {
    pub name: String,
    pub dsn: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "hurah_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut admin = hurah::pg::connect(&admin_dsn()).unwrap_or_else(|e| {
            panic!("the PostgreSQL test server is not reachable ({e}); set HURAH_TEST_PG")
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        let dsn = with_db(&admin_dsn(), &name);
        TestDb { name, dsn }
    }

    pub fn client(&self) -> postgres::Client {
        hurah::pg::connect(&self.dsn).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = hurah::pg::connect(&admin_dsn()) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
