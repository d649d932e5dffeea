use super::*;

#[test]
fn original_file_parses_and_keeps_key_order() {
    let raw =
        br#"{"payload":{"a":1},"sequence":7,"count":7,"delivery":"2023-10-02T13:18:35+00:00"}"#;
    let mut d = TaskDoc::parse(raw, Path::new("7.json")).unwrap();
    assert_eq!(d.sequence(), Some(7));
    assert_eq!(d.attempts(), 0);
    d.set(keys::RETRY_COUNT, 1.into());
    assert_eq!(
        d.to_json(),
        r#"{"payload":{"a":1},"sequence":7,"count":7,"delivery":"2023-10-02T13:18:35+00:00","retry_count":1}"#
    );
}

#[test]
fn php_json_is_what_php_json_encode_writes_with_no_flags() {
    let v: Value =
        serde_json::from_str(r#"{"s":"a/é 😀\n\"x\u0001","n":[1,2.5,-3],"o":{}}"#).unwrap();
    assert_eq!(
        php_json(&v),
        r#"{"s":"a\/\u00e9 \ud83d\ude00\n\"x\u0001","n":[1,2.5,-3],"o":{}}"#
    );
    // A retried original file is rewritten as hurah/events rewrote it.
    let raw = br#"{"payload":{"u":"http:\/\/x\/\u00e9"},"sequence":1,"count":1,"delivery":"2023-10-02T13:18:35+02:00"}"#;
    let mut d = TaskDoc::parse(raw, Path::new("1.json")).unwrap();
    d.set(keys::RETRY_COUNT, 1.into());
    assert_eq!(
        d.to_json(),
        r#"{"payload":{"u":"http:\/\/x\/\u00e9"},"sequence":1,"count":1,"delivery":"2023-10-02T13:18:35+02:00","retry_count":1}"#
    );
}

#[test]
fn php_json_writes_floats_as_php() {
    for (f, php) in [
        (2.0, "2"),
        (-3.0, "-3"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (0.0001, "0.0001"),
        (1e-5, "1.0e-5"),
        (1.5e-7, "1.5e-7"),
        (1e16, "10000000000000000"),
        (1e17, "1.0e+17"),
        (1.2345678901234568e17, "1.2345678901234568e+17"),
        (1e300, "1.0e+300"),
        (-0.0, "-0"),
    ] {
        assert_eq!(php_json(&Value::from(f)), php, "{f:?}");
    }
}

#[test]
fn attempts_count_from_both_workers_keys() {
    // hurah/events only updates retry_count, hurah also keeps attempts: after the two
    // took turns, the higher of the two is the number of unsuccessful runs.
    let raw =
        br#"{"payload":1,"sequence":1,"count":1,"delivery":"x","attempts":1,"retry_count":2}"#;
    let mut d = TaskDoc::parse(raw, Path::new("1.json")).unwrap();
    assert_eq!(d.attempts(), 2);
    d.set(keys::ATTEMPTS, 3.into());
    assert_eq!(d.attempts(), 3);
    assert_eq!(d.add_attempt(), 4);
}

#[test]
fn corrupt_files_are_named_with_reason() {
    for (bytes, needle) in [
        (&b""[..], "empty"),
        (&b"{\"payload\":"[..], "not valid JSON"),
        (&b"[1]"[..], "not a JSON object"),
        (&b"{\"a\":1}"[..], "payload"),
        (&b"{\"payload\":1,\"sequence\":-1}"[..], "sequence"),
    ] {
        let e = TaskDoc::parse(bytes, Path::new("/q/inbox/3.json")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("/q/inbox/3.json") && msg.contains(needle),
            "{msg}"
        );
    }
}

#[test]
fn new_task_json_has_original_keys_first() {
    let payload = RawValue::from_string("{\"product_id\":1}".into()).unwrap();
    let t = NewTask {
        payload: &payload,
        sequence: 3,
        delivery: "2023-10-02T13:18:35+00:00",
        event: &EventType::parse("product/created").unwrap(),
        id: "abc",
        not_before: None,
    };
    let json = t.to_json();
    assert!(json.starts_with(
        r#"{"payload":{"product_id":1},"sequence":3,"count":3,"delivery":"2023-10-02T13:18:35+00:00","#
    ));
    let d = TaskDoc::parse(json.as_bytes(), Path::new("x")).unwrap();
    assert_eq!(d.event(), Some("product/created"));
    assert_eq!(d.id(), Some("abc"));
}

#[test]
fn new_task_json_is_byte_identical_to_the_format_it_replaced() {
    // The text as it was built before write_json (format! and a serde_json Value).
    fn reference(t: &NewTask) -> String {
        let event = Value::String(t.event.to_string());
        let mut s = String::from("{\"payload\":");
        s.push_str(t.payload.get());
        s.push_str(&format!(
            ",\"sequence\":{seq},\"count\":{seq},\"delivery\":\"{}\",\"event\":{event},\"id\":\"{}\"",
            t.delivery,
            t.id,
            seq = t.sequence
        ));
        if let Some(nb) = t.not_before {
            s.push_str(&format!(",\"not_before\":{nb}"));
        }
        s.push('}');
        s
    }
    let payload = RawValue::from_string("[1,{\"a\":\"\\u00e9\"}]".into()).unwrap();
    for event in ["", "a", "product/created", "A-1/b.c/_x"] {
        for (sequence, not_before) in [(0, None), (7, Some(0)), (u64::MAX, Some(u64::MAX))] {
            let t = NewTask {
                payload: &payload,
                sequence,
                delivery: "2023-10-02T13:18:35+00:00",
                event: &EventType::parse(event).unwrap(),
                id: "0123456789abcdef0123456789abcd",
                not_before,
            };
            let mut s = String::from("x");
            t.write_json(&mut s);
            assert_eq!(s[1..], reference(&t));
            assert_eq!(t.to_json(), reference(&t));
        }
    }
    for n in [0, 9, 10, 99, 100, 12345, u64::MAX - 1, u64::MAX] {
        let mut s = String::new();
        push_u64(&mut s, n);
        assert_eq!(s, n.to_string());
    }
}

#[test]
fn wrap_corrupt_keeps_bytes() {
    let d = TaskDoc::wrap_corrupt(b"\xff\x00", 4, "bad", 0);
    assert_eq!(d.map["corrupt_content_hex"], "ff00");
    assert_eq!(d.error().unwrap()["reason"], "bad");
}
