use super::*;
use crate::{Dispatcher, EventType, FsyncPolicy, HandlerName, Layout};

#[test]
fn a_failed_settle_leaves_the_task_claimed_and_the_same_queue_recovers_it_next_call() {
    // Regression: after handle_once failed while settling (ENOSPC, ...), the task sat in
    // the queue's own claim directory, which recovery skipped as "ours" for as long as the
    // Queue lived.
    let d = tempfile::tempdir().unwrap();
    let l = Layout::new(d.path()).listener(
        &EventType::parse("a").unwrap(),
        &HandlerName::new("h").unwrap(),
    );
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    for k in ["1", "2"] {
        disp.dispatch(&EventType::parse("a").unwrap(), k).unwrap();
    }
    // FAILURE rewrites the file through tmp/: the first run removes tmp/, so settling fails.
    struct H(std::path::PathBuf, Vec<(u64, u64)>);
    impl Handler for H {
        fn handle_task(&mut self, t: &crate::Task) -> Outcome {
            if self.1.is_empty() {
                std::fs::remove_dir_all(&self.0).unwrap();
            }
            self.1.push((t.payload().as_u64().unwrap(), t.attempt()));
            Outcome::failure("planned")
        }
        fn max_attempts(&mut self) -> u64 {
            3
        }
        fn log(&mut self, _: Level, _: &str) {}
    }
    let tmp = l.tmp_dir();
    let mut h = H(tmp.clone(), Vec::new());
    assert!(handle_once(&mut q, &mut h).is_err());
    std::fs::create_dir(&tmp).unwrap();
    let s = handle_once(&mut q, &mut h).unwrap();
    assert_eq!((s.recovered, s.failed), (1, 2), "{s:?}");
    assert_eq!(h.1, [(1, 1), (1, 2), (2, 1)]);
    let claimed = std::fs::read_dir(l.state_dir(State::Claimed))
        .unwrap()
        .count();
    assert_eq!(claimed, 0);
}
