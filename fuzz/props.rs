//! Properties checked on arbitrary input, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`) and the stable replay + mutation harness in `tests/torture.rs`,
//! which replays `fuzz/corpus/<target>/*` on every `cargo test`.
//!
//! Each function panics when a property is broken; any other outcome is a pass.

#![allow(dead_code)]

use hurah::*;
use std::path::Path;

/// The targets, by name (also the corpus directory names).
pub const TARGETS: [&str; 4] = ["task_doc", "names", "file_names", "dispatch_payload"];

/// Runs the property of `target` on `data`.
pub fn check(target: &str, data: &[u8]) {
    match target {
        "task_doc" => task_doc(data),
        "names" => names(data),
        "file_names" => file_names(data),
        "dispatch_payload" => dispatch_payload(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// `TaskDoc::parse`: never panics; an accepted document re-serializes to JSON that parses to
/// the same document, keeps its payload, and its counters are non-negative integers. A
/// rejected file can be wrapped for `error/` and that wrapper parses too.
pub fn task_doc(data: &[u8]) {
    let path = Path::new("/q/a/h_listener/inbox/1.json");
    match TaskDoc::parse(data, path) {
        Ok(doc) => {
            let json = doc.to_json();
            let again = TaskDoc::parse(json.as_bytes(), path)
                .unwrap_or_else(|e| panic!("re-serialized task does not parse: {e}: {json}"));
            // Task files are written in json_encode()'s forms (as hurah/events wrote them): a
            // float with no fraction is written as an integer (`2.0` → `2`), so the first rewrite
            // may change a number's form but never its value, and rewriting again changes nothing.
            assert_eq!(
                again.to_json(),
                json,
                "to_json(parse(to_json(doc))) != to_json(doc)"
            );
            let first = hurah::json::from_str(&doc.to_json(), hurah::json::MAX_TASK_DEPTH).unwrap();
            let second = hurah::json::from_str(&json, hurah::json::MAX_TASK_DEPTH).unwrap();
            assert!(
                same_value(&first, &second),
                "a rewrite changed a value: {json}"
            );
            let _ = (doc.sequence(), doc.attempts(), doc.retry_count(), doc.id());
            let v = hurah::json::from_str(&json, hurah::json::MAX_TASK_DEPTH).unwrap();
            assert!(v.get("payload").is_some());
        }
        Err(e) => {
            assert!(matches!(e, Error::CorruptTask { .. }), "{e}");
            assert!(e.to_string().contains("inbox/1.json"), "{e}");
            let wrapped = TaskDoc::wrap_corrupt(data, 1, &e.to_string(), 0);
            let json = wrapped.to_json();
            let back = TaskDoc::parse(json.as_bytes(), path)
                .unwrap_or_else(|e| panic!("wrapped corrupt file does not parse: {e}"));
            assert_eq!(back.error().unwrap()["class"], "CorruptTask");
        }
    }
}

/// Equal JSON values, numbers compared by value (`2` and `2.0` are the same number).
fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

fn segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 200
        && !s.ends_with("_listener")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// `EventType::parse` and `HandlerName::new`: never panic; an accepted event type has no empty,
/// `.` or `..` segment, no `/` at either end, only safe bytes, and round-trips through
/// `to_string` and `from_segments`; an accepted handler name is one safe path component.
/// Rejections are the right error variant and quote the input.
pub fn names(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match EventType::parse(s) {
        Ok(t) => {
            assert!(!s.starts_with('/') && !s.ends_with('/'), "{s:?}");
            assert!(!s.contains("//"), "{s:?}");
            for seg in t.segments() {
                assert!(segment_ok(seg), "accepted bad segment {seg:?} in {s:?}");
            }
            // A `0` segment is dropped, as hurah/events' path joining dropped it.
            let kept: Vec<&str> = s.split('/').filter(|seg| *seg != "0").collect();
            assert_eq!(t.to_string(), kept.join("/"));
            assert_eq!(EventType::parse(&t.to_string()).unwrap(), t);
            assert_eq!(EventType::from_segments(t.segments()).unwrap(), t);
            assert_eq!(t.delivery_levels().count(), t.segments().len() + 1);
        }
        Err(e) => assert!(matches!(e, Error::InvalidEventType { .. }), "{e}"),
    }
    match HandlerName::new(s) {
        Ok(n) => {
            assert_eq!(n.as_str(), s);
            assert!(segment_ok(s) || s.ends_with("_listener"), "{s:?}");
            assert!(s.as_bytes()[0].is_ascii_alphanumeric(), "{s:?}");
            assert!(!s.contains('/') && s != "." && s != "..", "{s:?}");
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidHandlerName { .. }), "{e}");
        }
    }
}

/// Task and delayed file-name parsers: never panic; what they accept is exactly digits (and
/// the documented separators) with a `.json` suffix; names built by the library parse back.
pub fn file_names(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(n) = parse_task_file_name(s) {
            let stem = s.strip_suffix(".json").unwrap();
            assert!(stem.bytes().all(|b| b.is_ascii_digit()), "{s:?}");
            assert_eq!(stem.parse::<u64>().unwrap(), n);
            assert_eq!(parse_final_file_name(s), Some(n));
        }
        if let Some(n) = parse_final_file_name(s) {
            let stem = s.strip_suffix(".json").unwrap();
            assert!(
                stem.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                "{s:?}"
            );
            assert!(
                stem.starts_with(&n.to_string()) || stem.starts_with('0'),
                "{s:?}"
            );
        }
        if let Some((due, seq)) = parse_delayed_file_name(s) {
            let stem = s.strip_suffix(".json").unwrap();
            assert!(
                stem.bytes().all(|b| b.is_ascii_digit() || b == b'-'),
                "{s:?}"
            );
            assert_eq!(stem.matches('-').count(), 1, "{s:?}");
            assert_eq!(
                parse_delayed_file_name(&delayed_file_name(due, seq)),
                Some((due, seq))
            );
        }
    }
    // Round trips for numbers taken from the input.
    let mut b = [0u8; 16];
    for (i, x) in data.iter().take(16).enumerate() {
        b[i] = *x;
    }
    let a = u64::from_le_bytes(b[..8].try_into().unwrap());
    let c = u64::from_le_bytes(b[8..].try_into().unwrap());
    assert_eq!(parse_task_file_name(&task_file_name(a)), Some(a));
    assert_eq!(parse_final_file_name(&task_file_name(a)), Some(a));
    assert_eq!(
        parse_final_file_name(&format!("{a}.{}.json", c % 10_000 + 1)),
        Some(a)
    );
    assert_eq!(
        parse_delayed_file_name(&delayed_file_name(a, c)),
        Some((a, c))
    );
    let (x, y) = (delayed_file_name(a, 1), delayed_file_name(c, 1));
    if a < c && a < 10_000_000_000_000_000 && c < 10_000_000_000_000_000 {
        assert!(x < y, "delayed names sort by due time: {x} {y}");
    }
}

thread_local! {
    static DISPATCH_ROOT: (tempfile::TempDir, Dispatcher, Listener) = {
        let d = tempfile::Builder::new().prefix("hurah-fuzz-").tempdir_in(
            if Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" }
        ).unwrap();
        let l = Layout::new(d.path()).listener(
            &EventType::parse("a").unwrap(),
            &HandlerName::new("h").unwrap(),
        );
        l.ensure().unwrap();
        let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
        (d, disp, l)
    };
}

/// The dispatch payload validation (also the CLI's JSON input, which `hurah dispatch` passes
/// through unchanged): never panics; invalid JSON is `InvalidPayload` and creates nothing;
/// valid JSON is published as one task file whose payload is the same JSON value.
pub fn dispatch_payload(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    DISPATCH_ROOT.with(|(_d, disp, l)| {
        let ty = EventType::parse("a").unwrap();
        // The oracle: serde_json's parser, for text nested at most as deep as dispatch allows
        // (512, json_encode's default); deeper text must be refused whatever it is.
        let max = hurah::json::MAX_PAYLOAD_DEPTH;
        let expected = (hurah::json::depth(data) <= max).then(|| hurah::json::from_str(s, max));
        match disp.dispatch(&ty, s) {
            Ok(r) => {
                let want = expected
                    .unwrap_or_else(|| panic!("dispatch accepted nesting deeper than {max}: {s:?}"))
                    .unwrap_or_else(|e| panic!("dispatch accepted invalid JSON ({e}): {s:?}"));
                assert_eq!(r.deliveries.len(), 1);
                let p = std::path::Path::new(&r.deliveries[0].location);
                let bytes = std::fs::read(p).unwrap();
                let doc = TaskDoc::parse(&bytes, p)
                    .unwrap_or_else(|e| panic!("published task does not parse: {e}"));
                assert_eq!(doc.payload(), &want);
                assert_eq!(doc.sequence(), Some(r.deliveries[0].sequence));
                assert_eq!(doc.event(), Some("a"));
                std::fs::remove_file(p).unwrap();
            }
            Err(e) => {
                assert!(matches!(e, Error::InvalidPayload { .. }), "{e}");
                // Only invalid JSON, or JSON nested deeper than the limit.
                assert!(
                    expected.as_ref().map_or(true, |v| v.is_err()),
                    "valid JSON rejected: {s:?}: {e}"
                );
            }
        }
        let left = std::fs::read_dir(l.tmp_dir()).unwrap().count()
            + std::fs::read_dir(l.state_dir(State::Inbox))
                .unwrap()
                .count();
        assert_eq!(left, 0, "files left behind");
    });
}

// ---------------------------------------------------------------------------------------------
// Stable harness: corpus replay plus a small mutator.

/// Tokens the mutator splices in: separators, reserved names, JSON structure, number edges.
pub const DICTIONARY: &[&str] = &[
    "/",
    "..",
    ".",
    "_listener",
    "-",
    ".json",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\\u0000",
    "\"payload\"",
    "\"sequence\"",
    "\"attempts\"",
    "\"retry_count\"",
    "-1",
    "1e3",
    "0.5",
    "18446744073709551615",
    "18446744073709551616",
    "null",
    "true",
    "\u{0}",
    "\u{ff}",
    "é",
    " ",
    "\n",
    "00000000000000000000",
];

/// splitmix64.
pub struct Mutator(u64);

impl Mutator {
    /// A mutator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Mutator(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// One to four random edits of `input` (flip, insert token, delete, duplicate, splice).
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(v.len() + 1);
            match self.below(6) {
                0 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] ^= 1 << self.below(8);
                }
                1 => {
                    let t = DICTIONARY[self.below(DICTIONARY.len())].as_bytes();
                    v.splice(at..at, t.iter().copied());
                }
                2 if !v.is_empty() => {
                    let end = (at + 1 + self.below(8)).min(v.len());
                    let start = at.min(end);
                    v.drain(start..end);
                }
                3 if !v.is_empty() => {
                    let start = self.below(v.len());
                    let end = (start + 1 + self.below(16)).min(v.len());
                    let chunk: Vec<u8> = v[start..end].to_vec();
                    v.splice(at..at, chunk);
                }
                4 if !other.is_empty() => {
                    let start = self.below(other.len());
                    let end = (start + 1 + self.below(32)).min(other.len());
                    v.splice(at..at, other[start..end].iter().copied());
                }
                _ => {
                    let b = self.next() as u8;
                    v.insert(at, b);
                }
            }
        }
        v.truncate(4096);
        v
    }
}

/// The committed corpus of `target` (`fuzz/corpus/<target>/*`), sorted by name.
pub fn corpus(fuzz_dir: &Path, target: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(fuzz_dir.join("corpus").join(target))
        .map(|e| {
            e.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Replays the corpus of `target`, then mutates it for `iterations` rounds or until
/// `deadline`. On a broken property, panics with the input in hex (and writes it to
/// `$HURAH_FUZZ_CRASH_DIR/<target>-<n>` when that is set, ready to commit to the corpus).
pub fn replay_and_mutate(
    fuzz_dir: &Path,
    target: &str,
    iterations: u64,
    deadline: Option<std::time::Instant>,
    seed: u64,
) -> u64 {
    let corpus = corpus(fuzz_dir, target);
    assert!(!corpus.is_empty(), "no corpus for {target}");
    let run = |data: &[u8]| {
        let r = std::panic::catch_unwind(|| check(target, data));
        if let Err(p) = r {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            if let Some(dir) = std::env::var_os("HURAH_FUZZ_CRASH_DIR") {
                let _ = std::fs::create_dir_all(&dir);
                let name = format!("{target}-{:016x}", fnv(data));
                let _ = std::fs::write(Path::new(&dir).join(name), data);
            }
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "{target}: property broken on input {hex} ({:?}): {msg}",
                String::from_utf8_lossy(data)
            );
        }
    };
    for (_, data) in &corpus {
        run(data);
    }
    let mut m = Mutator::new(seed);
    let mut pool: Vec<Vec<u8>> = corpus.into_iter().map(|(_, d)| d).collect();
    let mut n = 0;
    while n < iterations && !deadline.is_some_and(|d| std::time::Instant::now() >= d) {
        let a = m.below(pool.len());
        let b = m.below(pool.len());
        let input = m.mutate(&pool[a], &pool[b]);
        run(&input);
        if pool.len() < 4096 && m.below(8) == 0 {
            pool.push(input);
        }
        n += 1;
    }
    n
}

fn fnv(d: &[u8]) -> u64 {
    d.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    })
}
