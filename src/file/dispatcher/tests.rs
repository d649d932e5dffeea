use super::*;
use crate::json::plain_json;
use crate::{HandlerName, TaskDoc};

#[test]
fn plain_json_shortcut_accepts_only_what_a_value_accepts() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let cases = [
        r#"{"product_id":1,"name":"benchmark"}"#.to_string(),
        "1e400".into(),
        "1E400".into(),
        "[-1e999]".into(),
        "1.5e3".into(),
        "{\"a\":\"\\ud800\"}".into(),
        "\"\\ud83d\\ude00\"".into(),
        "\"e1\"".into(),
        "[true,false,null]".into(),
        "9".repeat(299),
        "9".repeat(309),
        format!("{}.5", "9".repeat(400)),
        format!("0.{}", "9".repeat(400)),
        nested(126),
        nested(127),
        nested(200),
        nested(512),
        nested(513),
        "01".into(),
        "1.".into(),
        "\"a\u{1}\"".into(),
        "{\"a\":1,}".into(),
        " {} ".into(),
        "{} x".into(),
        "".into(),
    ];
    for c in &cases {
        let value = crate::json::from_str(c, crate::json::MAX_PAYLOAD_DEPTH);
        let ok = value
            .as_ref()
            .is_ok_and(|v| depth(v) <= crate::json::MAX_PAYLOAD_DEPTH);
        if plain_json(c) && serde_json::from_str::<&RawValue>(c).is_ok() {
            assert!(ok, "shortcut accepted {c:?}: {value:?}");
        }
    }
    assert!(plain_json(
        r#"{"product_id":1,"name":"benchmark","e":[1,2.5,-3]}"#
    ));
}

#[test]
fn payload_the_worker_could_not_read_is_rejected_at_dispatch() {
    // Regression (found by fuzzing): a RawValue accepts 1e400, but the worker's parser
    // rejects it, so the task ended in error/ as corrupt instead of the dispatch failing.
    let d = tempfile::tempdir().unwrap();
    let l = Layout::new(d.path()).listener(
        &EventType::parse("a").unwrap(),
        &HandlerName::new("h").unwrap(),
    );
    l.ensure().unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    for bad in [
        "1e400".to_string(),
        "[-1e999]".into(),
        "{\"a\":\"\\ud800\"}".into(),
        nested(513),
    ] {
        let bad = bad.as_str();
        match disp.dispatch(&ty, bad) {
            Err(Error::InvalidPayload { reason }) => {
                assert!(
                    reason.contains("JSON") || reason.contains("nested"),
                    "{reason}"
                )
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(
        fs::read_dir(l.state_dir(crate::State::Inbox))
            .unwrap()
            .count(),
        0
    );
    for good in [
        "1e300".to_string(),
        "123456789012345678901234567890".into(),
        "\"\\ud83d\\ude00\"".into(),
        nested(126),
        nested(512),
        format!("[{}]", "{}".repeat(200).replace("}{", "},{")),
    ] {
        let good = good.as_str();
        let r = disp.dispatch(&ty, good).unwrap();
        let p = Path::new(&r.deliveries[0].location);
        TaskDoc::parse(&fs::read(p).unwrap(), p).unwrap();
    }
}
