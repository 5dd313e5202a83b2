//! Reliable broadcast past n = 4 (issue 27): the textbook facts at the
//! sizes the verifier now reaches. `scripts/rb_scaling` verifies every
//! scripted protocol from the release binary for the docs' table.

use envs::broadcast::game::RbSpec;
use envs::broadcast::protocols;
use envs::broadcast::search::{self, Limits, Report};
use envs::broadcast::RbFaults;

fn report(name: &str, n: usize, f: usize, faults: RbFaults) -> Report {
    let p = protocols::scripted(name).unwrap();
    let spec = RbSpec::new(n, f, faults).unwrap();
    search::verify(&spec, p, &Limits::default()).unwrap()
}

#[test]
fn bracha_is_verified_at_5_1() {
    let r = report("bracha", 5, 1, RbFaults::Byzantine);
    assert!(r.verified, "{:?}", r.counterexample.map(|c| c.render()));
    assert_eq!(r.instances, 9);
    // The count with every reduction (docs/reliable_broadcast.md's table).
    assert_eq!(r.states, 361);
}

#[test]
fn bracha_is_verified_at_7_2() {
    let r = report("bracha", 7, 2, RbFaults::Byzantine);
    assert!(r.verified, "{:?}", r.counterexample.map(|c| c.render()));
    // 17,127,586 states (a minute) before an invisible copy's window
    // stopped at the next read of that message from someone else.
    assert_eq!(r.states, 44_181);
}

/// n <= 3f: Bracha falls, at n = 3, f = 1 and at n = 6, f = 2, with a
/// Byzantine sender (totality) and with a correct one (validity too).
#[test]
fn bracha_breaks_at_3_1_and_6_2() {
    for (n, f) in [(3, 1), (6, 2)] {
        let r = report("bracha", n, f, RbFaults::Byzantine);
        assert!(!r.verified, "n = {n}, f = {f}");
        assert_eq!(r.broken, ["validity", "totality"], "n = {n}, f = {f}");
        assert_eq!(r.broken_instances, r.instances, "n = {n}, f = {f}");
        let c = r
            .counterexample
            .expect("a broken protocol has a counterexample");
        assert!(c.render().contains("end:"), "{}", c.render());
    }
}

/// Echo broadcast keeps agreement for n > 3f and loses totality, and only
/// to a Byzantine sender: every instance broken has the sender faulty.
#[test]
fn echo_broadcast_breaks_totality_only_under_a_byzantine_sender_at_5_1_and_7_2() {
    for (n, f) in [(5, 1), (7, 2)] {
        let r = report("echo", n, f, RbFaults::Byzantine);
        assert_eq!(r.broken, ["totality"], "n = {n}, f = {f}");
        for v in &r.per_instance {
            let sender_byzantine = v.faulty.contains(&0);
            assert_eq!(
                !v.broken.is_empty(),
                sender_byzantine,
                "n = {n}, f = {f}: {v:?}"
            );
        }
    }
}

/// As at n = 3: a crash-prone sender may reach some correct agents and not
/// the others, so delivering on receipt loses totality (in every instance
/// with the sender crash-prone), and relaying before delivering keeps it.
#[test]
fn crash_algorithms_at_5_1_and_7_2() {
    for (n, f) in [(5, 1), (7, 2)] {
        let r = report("deliver_on_receipt", n, f, RbFaults::Crash);
        assert_eq!(r.broken, ["totality"], "n = {n}, f = {f}");
        for v in &r.per_instance {
            assert_eq!(!v.broken.is_empty(), v.faulty.contains(&0), "{v:?}");
        }
        let r = report("relay_then_deliver", n, f, RbFaults::Crash);
        assert!(r.verified, "{:?}", r.counterexample.map(|c| c.render()));
    }
}

/// Without the f+1 READY amplification, totality falls at n = 5 too.
#[test]
fn bracha_without_ready_amplification_breaks_totality_at_5_1() {
    let r = report("bracha_no_amplification", 5, 1, RbFaults::Byzantine);
    assert_eq!(r.broken, ["totality"]);
}
