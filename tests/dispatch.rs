//! Dispatch behaviour of the core: the event tree, atomic publication, sequences, bad input.

use hurah::*;
use std::fs;
use std::path::Path;

fn listener(root: &Path, ty: &str, name: &str) -> Queue {
    let l = Layout::new(root).listener(
        &EventType::parse(ty).unwrap(),
        &HandlerName::new(name).unwrap(),
    );
    Queue::open(l, FsyncPolicy::Never).unwrap()
}

fn inbox_count(q: &Queue) -> usize {
    q.due().unwrap().len()
}

#[test]
fn dispatch_reaches_own_level_ancestors_and_root_but_never_below() {
    let d = tempfile::tempdir().unwrap();
    let root_l = listener(d.path(), "", "audit");
    let product = listener(d.path(), "product", "price_calculator");
    let stored_a = listener(d.path(), "product/stored", "image_scaler");
    let stored_b = listener(d.path(), "product/stored", "translation");
    let deeper = listener(d.path(), "product/stored/deeper", "x");
    let other = listener(d.path(), "order", "mailer");
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let r = disp
        .dispatch(
            &EventType::parse("product/stored").unwrap(),
            r#"{"product_id":1}"#,
        )
        .unwrap();
    assert_eq!(r.deliveries.len(), 4);
    for q in [&root_l, &product, &stored_a, &stored_b] {
        assert_eq!(inbox_count(q), 1, "{}", q.listener().dir().display());
    }
    assert_eq!(inbox_count(&deeper), 0);
    assert_eq!(inbox_count(&other), 0);
}

#[test]
fn one_dispatch_increments_three_listeners_inboxes() {
    // Port of the original DispatcherTest::testDispatch.
    let d = tempfile::tempdir().unwrap();
    let qs = [
        listener(d.path(), "product", "price_calculator"),
        listener(d.path(), "product/stored", "image_scaler"),
        listener(d.path(), "product/stored", "translation"),
    ];
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let before: Vec<usize> = qs.iter().map(inbox_count).collect();
    disp.dispatch(
        &EventType::from_segments(["product", "stored"]).unwrap(),
        r#"{"a":1}"#,
    )
    .unwrap();
    let after: Vec<usize> = qs.iter().map(inbox_count).collect();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a - b, 1);
    }
}

#[test]
fn task_file_has_original_keys_and_tracking_keeps_its_keys() {
    let d = tempfile::tempdir().unwrap();
    let q = listener(d.path(), "product", "h");
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("product/created").unwrap();
    let r1 = disp.dispatch(&ty, r#"{"product_id":123}"#).unwrap();
    disp.dispatch(&ty, r#""second""#).unwrap();
    let text = fs::read_to_string(q.listener().inbox_file(1)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(&keys[..4], ["payload", "sequence", "count", "delivery"]);
    assert_eq!(v["payload"]["product_id"], 123);
    assert_eq!(v["sequence"], 1);
    assert_eq!(v["count"], 1);
    assert_eq!(v["event"], "product/created");
    assert_eq!(v["id"], r1.id.as_str());
    let t: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(q.listener().tracking_file()).unwrap()).unwrap();
    let tkeys: Vec<&String> = t.as_object().unwrap().keys().collect();
    assert_eq!(tkeys, ["sequence", "count", "first", "last"]);
    assert_eq!(t["sequence"], 2);
}

#[test]
fn rejected_event_type_creates_nothing() {
    let d = tempfile::tempdir().unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    for bad in ["../x", "a//b", "a/", "/a", ".", "a/b_listener"] {
        assert!(EventType::parse(bad).is_err(), "{bad}");
    }
    // Dispatching to a type with no listener creates no directories either.
    disp.dispatch(&EventType::parse("a/b/c").unwrap(), "1")
        .unwrap();
    assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn invalid_json_payload_is_rejected_before_writing() {
    let d = tempfile::tempdir().unwrap();
    let q = listener(d.path(), "a", "h");
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    for bad in ["", "{", "NaN", "{\"a\":1}x"] {
        match disp.dispatch(&EventType::parse("a").unwrap(), bad) {
            Err(Error::InvalidPayload { .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert_eq!(inbox_count(&q), 0);
    assert_eq!(fs::read_dir(q.listener().tmp_dir()).unwrap().count(), 0);
}

#[test]
fn root_that_cannot_be_created_is_an_io_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("plain-file");
    fs::write(&file, "x").unwrap();
    let root = file.join("root");
    match Dispatcher::new(&root, FsyncPolicy::Never) {
        Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("plain-file"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_root_is_created() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("a/b/c");
    Dispatcher::new(&root, FsyncPolicy::Always).unwrap();
    assert!(root.is_dir());
}

#[test]
fn taken_sequence_is_skipped_never_overwritten() {
    let d = tempfile::tempdir().unwrap();
    let q = listener(d.path(), "a", "h");
    // A legacy writer dropped 1.json without updating tracking.json.
    fs::write(
        q.listener().inbox_file(1),
        r#"{"payload":"legacy","sequence":1,"count":1,"delivery":"x"}"#,
    )
    .unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let r = disp
        .dispatch(&EventType::parse("a").unwrap(), r#""new""#)
        .unwrap();
    assert_eq!(r.deliveries[0].sequence, 2);
    assert!(fs::read_to_string(q.listener().inbox_file(1))
        .unwrap()
        .contains("legacy"));
    assert!(fs::read_to_string(q.listener().inbox_file(2))
        .unwrap()
        .contains("\"new\""));
}

#[test]
fn concurrent_dispatchers_never_reuse_a_sequence() {
    let d = tempfile::tempdir().unwrap();
    let q = listener(d.path(), "a", "h");
    let root = d.path().to_path_buf();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || {
                let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
                for i in 0..250 {
                    disp.dispatch(&EventType::parse("a").unwrap(), &format!("[{t},{i}]"))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let due = q.due().unwrap();
    assert_eq!(due.len(), 1000);
    assert_eq!(due, (1..=1000).collect::<Vec<u64>>());
}

#[test]
fn files_are_0644_and_dirs_0755_under_umask() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let q = listener(d.path(), "a", "h");
    Dispatcher::new(d.path(), FsyncPolicy::Never)
        .unwrap()
        .dispatch(&EventType::parse("a").unwrap(), "1")
        .unwrap();
    let umask = unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m
    };
    let fmode = fs::metadata(q.listener().inbox_file(1))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    let dmode = fs::metadata(q.listener().dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(fmode, 0o644 & !umask);
    assert_eq!(dmode, 0o755 & !umask);
    let tmode = fs::metadata(q.listener().tracking_file())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(tmode, 0o644 & !umask);
}

#[test]
fn delayed_dispatch_goes_to_delayed_with_due_time_in_name() {
    let d = tempfile::tempdir().unwrap();
    let q = listener(d.path(), "a", "h");
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let due = clock::now_ms() + 60_000;
    let r = disp
        .dispatch_with(
            &EventType::parse("a").unwrap(),
            "1",
            DispatchOptions {
                not_before_ms: Some(due),
            },
        )
        .unwrap();
    assert_eq!(q.due().unwrap().len(), 0);
    assert_eq!(q.delayed().unwrap(), vec![(due, 1)]);
    assert!(std::path::Path::new(&r.deliveries[0].location)
        .starts_with(q.listener().state_dir(State::Delayed)));
    // A due time in the past is due at once.
    disp.dispatch_with(
        &EventType::parse("a").unwrap(),
        "2",
        DispatchOptions {
            not_before_ms: Some(1),
        },
    )
    .unwrap();
    assert_eq!(q.due().unwrap(), vec![2]);
}

#[test]
fn a_listener_directory_made_by_hand_gets_its_directories_and_the_task() {
    // The original library and `mkdir -p` register a listener with just `<name>_listener/` (or
    // only its inbox/): dispatch makes what is missing and publishes, immediately or delayed.
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("a/bare_listener")).unwrap();
    fs::create_dir_all(d.path().join("a/inbox_only_listener/inbox")).unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let a = EventType::parse("a").unwrap();
    let r = disp.dispatch(&a, "1").unwrap();
    assert_eq!(r.deliveries.len(), 2);
    for name in ["bare", "inbox_only"] {
        let l = d.path().join(format!("a/{name}_listener"));
        assert!(l.join("inbox/1.json").is_file(), "{name}");
        assert!(l.join("tracking.json").is_file(), "{name}");
    }
    let later = DispatchOptions {
        not_before_ms: Some(hurah::clock::now_ms() + 60_000),
    };
    fs::create_dir_all(d.path().join("a/late_listener")).unwrap();
    let r = disp.dispatch_with(&a, "2", later).unwrap();
    assert_eq!(r.deliveries.len(), 3);
    let delayed: Vec<_> = fs::read_dir(d.path().join("a/late_listener/delayed"))
        .unwrap()
        .collect();
    assert_eq!(delayed.len(), 1);
}
