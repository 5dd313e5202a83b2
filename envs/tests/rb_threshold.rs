//! The threshold form of every threshold-guarded scripted protocol decides
//! as the protocol's code on every view (issue 28), so the rules exported
//! as threshold automata cannot drift from the code.

use envs::broadcast::protocols::{self, REGISTRY};
use envs::broadcast::threshold::disagreement;
use envs::broadcast::{RbFaults, RbSpec, Semantics};

/// n = 4 to 7, each with the most faults it tolerates (t = f = 1, 1, 1,
/// 2): built directly, as the game's own constructor stops at its
/// search's largest n (the rules do not).
fn sizes() -> Vec<RbSpec> {
    (4..=7)
        .map(|n| RbSpec {
            n,
            f: (n - 1) / 3,
            faults: RbFaults::Byzantine,
            semantics: Semantics::Single,
            values: 3,
        })
        .collect()
}

#[test]
fn threshold_rules_decide_as_the_code_on_every_view() {
    use rayon::prelude::*;
    let forms: Vec<_> = REGISTRY
        .iter()
        .filter_map(|(p, _)| protocols::threshold_form(p.name).map(|f| (p, f)))
        .collect();
    let jobs: Vec<_> = forms
        .iter()
        .flat_map(|pf| sizes().into_iter().map(move |spec| (pf, spec)))
        .collect();
    jobs.par_iter().for_each(|((p, form), spec)| {
        if let Some((view, rules, code)) = disagreement(spec, form, *p) {
            panic!(
                "{} at n = {}, f = {}: on {view:?} the rules decide {rules:?}, the code {code:?}",
                p.name, spec.n, spec.f
            );
        }
    });
    let checked: Vec<&str> = forms.iter().map(|(p, _)| p.name).collect();
    // Every scripted protocol but relay_then_deliver (it reads its own
    // delivery) is threshold-guarded.
    assert_eq!(
        checked,
        [
            "bracha",
            "bracha_no_amplification",
            "echo",
            "imbs_raynal",
            "rbl_alg3",
            "rbl_alg4",
            "deliver_on_receipt"
        ]
    );
}

/// A rule changed is caught: Bracha's READY quorum one lower decides
/// otherwise on some view.
#[test]
fn a_drifted_rule_is_caught() {
    use envs::broadcast::threshold::{Act, Atom, Threshold};
    let mut form = protocols::threshold_form("bracha").unwrap();
    for r in &mut form.rules {
        if let (Act::Deliver(_), [Atom::AtLeast(m, _)]) = (r.then, r.when.as_slice()) {
            r.when = vec![Atom::AtLeast(*m, Threshold::new(0, 2, 0, 1))];
        }
    }
    let bracha = protocols::scripted("bracha").unwrap();
    assert!(disagreement(&sizes()[3], &form, bracha).is_some());
}
