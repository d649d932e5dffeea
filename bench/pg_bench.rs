//! PostgreSQL backend benchmark (placeholder until src/pg lands; see issue 9).
fn main() {
    eprintln!("pg_bench: not implemented yet");
}
