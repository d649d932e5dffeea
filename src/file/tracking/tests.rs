use super::*;
use crate::{EventType, HandlerName, Layout};

fn listener(root: &std::path::Path) -> Listener {
    let l = Layout::new(root).listener(
        &EventType::parse("a").unwrap(),
        &HandlerName::new("h").unwrap(),
    );
    l.ensure().unwrap();
    l
}

#[test]
fn sequence_increments_and_first_is_kept() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path());
    let mut t = TrackingLock::acquire(&l).unwrap();
    assert_eq!(t.next().unwrap(), 1);
    t.commit("x").unwrap();
    drop(t);
    let first1: Value =
        serde_json::from_str(&fs::read_to_string(l.tracking_file()).unwrap()).unwrap();
    let mut t = TrackingLock::acquire(&l).unwrap();
    assert_eq!(t.next().unwrap(), 2);
    t.commit("y").unwrap();
    drop(t);
    let v: Value = serde_json::from_str(&fs::read_to_string(l.tracking_file()).unwrap()).unwrap();
    assert_eq!(v["sequence"], 2);
    assert_eq!(v["count"], 2);
    assert_eq!(v["first"], first1["first"]);
    assert_eq!(v["last"], "y");
}

#[test]
fn corrupt_tracking_is_recomputed_from_highest_task() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path());
    fs::write(l.state_dir(State::Archive).join("41.json"), "{}").unwrap();
    fs::write(l.state_dir(State::Inbox).join("12.json"), "{}").unwrap();
    fs::write(l.tracking_file(), "{\"sequ").unwrap();
    let mut t = TrackingLock::acquire(&l).unwrap();
    assert_eq!(t.next().unwrap(), 42);
}

/// What the general (serde_json) path makes of a tracking.json.
fn general(b: &[u8]) -> Option<(u64, u64, String)> {
    let text = String::from_utf8_lossy(b);
    serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        Some((
            v.get("sequence")?.as_u64()?,
            v.get("count").and_then(Value::as_u64).unwrap_or(0),
            v.get("first")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ))
    })
}

#[test]
fn own_format_shortcut_agrees_with_serde_json() {
    let t = "2023-10-02T13:18:35+00:00";
    let mut cases: Vec<Vec<u8>> = vec![
        format!(r#"{{"sequence":25,"count":25,"first":"{t}","last":"{t}"}}"#).into(),
        br#"{"sequence":0,"count":0,"first":"","last":""}"#.to_vec(),
        format!(r#"{{"sequence":18446744073709551615,"count":1,"first":"{t}","last":"{t}"}}"#)
            .into(),
        format!(r#"{{"sequence":18446744073709551616,"count":1,"first":"{t}","last":"{t}"}}"#)
            .into(),
        format!(r#"{{"sequence":01,"count":1,"first":"{t}","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":-1,"count":1,"first":"{t}","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":1.0,"count":1,"first":"{t}","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"a"b","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"a\/b","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"é","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"{t}","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"{t}","last":"{t}"}} "#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"{t}","last":"{t}"}}x"#).into(),
        format!(r#"{{"sequence": 3,"count":2,"first":"{t}","last":"{t}"}}"#).into(),
        format!(r#"{{"count":2,"sequence":3,"first":"{t}","last":"{t}"}}"#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"{t}"}}"#).into(),
        format!(r#"{{"sequence":3,"count":2,"first":"{t}","last":"{t}""#).into(),
        b"".to_vec(),
        b"{\"sequ".to_vec(),
        b"{\"sequence\":3,\"count\":2,\"first\":\"a\tb\",\"last\":\"x\"}".to_vec(),
    ];
    // Invalid UTF-8 in first / last, a control character, a NUL.
    for bad in [&b"\xff"[..], b"\x01", b"\x00"] {
        let mut a = b"{\"sequence\":3,\"count\":2,\"first\":\"".to_vec();
        a.extend_from_slice(bad);
        a.extend_from_slice(b"\",\"last\":\"x\"}");
        cases.push(a);
        let mut b = b"{\"sequence\":3,\"count\":2,\"first\":\"x\",\"last\":\"".to_vec();
        b.extend_from_slice(bad);
        b.extend_from_slice(b"\"}");
        cases.push(b);
    }
    let mut taken = 0;
    for c in &cases {
        if let Some((s, n, f)) = parse_own_format(c) {
            taken += 1;
            assert_eq!(
                Some((s, n, f.to_string())),
                general(c),
                "{}",
                String::from_utf8_lossy(c)
            );
        }
    }
    assert_eq!(taken, 5, "the shortcut takes exactly the plain cases");
}

#[test]
fn long_tracking_file_is_read_whole_and_truncated_on_rewrite() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path());
    let first = "f".repeat(700);
    fs::write(
        l.tracking_file(),
        format!(
            r#"{{"sequence":9,"count":9,"first":"{first}","last":"{}"}}"#,
            "l".repeat(300)
        ),
    )
    .unwrap();
    let mut t = TrackingLock::acquire(&l).unwrap();
    assert_eq!(t.next().unwrap(), 10);
    t.commit("z").unwrap();
    drop(t);
    assert_eq!(
        fs::read_to_string(l.tracking_file()).unwrap(),
        format!(r#"{{"sequence":10,"count":10,"first":"{first}","last":"z"}}"#)
    );
    // A file of exactly 512 bytes (one full read) is read to its end as well.
    let pad = 512 - r#"{"sequence":4,"count":4,"first":"","last":""}"#.len();
    let exact = format!(
        r#"{{"sequence":4,"count":4,"first":"{}","last":""}}"#,
        "p".repeat(pad)
    );
    assert_eq!(exact.len(), 512);
    fs::write(l.tracking_file(), &exact).unwrap();
    let mut t = TrackingLock::acquire(&l).unwrap();
    assert_eq!(t.next().unwrap(), 5);
}

#[test]
fn legacy_tracking_file_is_read() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path());
    fs::write(
        l.tracking_file(),
        r#"{"sequence":25,"count":25,"first":"2023-10-02T13:18:35+00:00","last":"2023-10-02T13:18:35+00:00"}"#,
    )
    .unwrap();
    let mut t = TrackingLock::acquire(&l).unwrap();
    assert_eq!(t.next().unwrap(), 26);
    t.commit("z").unwrap();
    drop(t);
    let v: Value = serde_json::from_str(&fs::read_to_string(l.tracking_file()).unwrap()).unwrap();
    assert_eq!(v["first"], "2023-10-02T13:18:35+00:00");
}
