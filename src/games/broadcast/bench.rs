//! Reliable broadcast's speed figures for `selfplay bench`: its verifier.

use crate::bench::{Bench, Table};
use envs::broadcast::{self as rb, RbFaults};
use std::time::Instant;

pub fn bench() -> Bench {
    Bench {
        figures: vec![],
        tables: vec![Table {
            only: "rb_verify",
            print: |_quick| rb_table(),
        }],
    }
}

/// The reliable-broadcast verifier's figures (also `bench --only rb_verify`).
fn rb_table() {
    crate::outln!("verify --game reliable_broadcast: every delivery order, one thread");
    crate::outln!(
        "  {:<44} {:>14} {:>12} {:>10}",
        "protocol",
        "seconds",
        "states",
        "target"
    );
    for (p, n, faults, target) in [
        ("bracha", 4, RbFaults::Byzantine, "< 1 s"),
        ("bracha_no_amplification", 4, RbFaults::Byzantine, ""),
        ("rbl_alg3", 4, RbFaults::Byzantine, ""),
        ("relay_then_deliver", 3, RbFaults::Crash, ""),
    ] {
        let (seconds, r) = rb_verify(p, n, faults);
        let game = format!(
            "{p}, n={n} f=1 {} (rate {:.3})",
            faults.name(),
            r.optimal_attack_rate
        );
        crate::outln!(
            "  {game:<44} {seconds:>12.3} s {:>12} {target:>10}",
            r.states
        );
    }
}

/// Seconds to verify a reliable-broadcast protocol, and the report.
fn rb_verify(protocol: &str, n: usize, faults: RbFaults) -> (f64, rb::Report) {
    let p = rb::protocols::scripted(protocol).expect("a registered protocol");
    let spec = rb::RbSpec::new(n, 1, faults).expect("bench settings are valid");
    let start = Instant::now();
    let r = rb::verify(&spec, p, &rb::Limits::default()).expect("within limits");
    (start.elapsed().as_secs_f64(), r)
}
