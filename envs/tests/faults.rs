//! Crash and omission faults: the textbook facts, pinned, and the verifier's
//! search cross-checked against a brute force over every drop schedule
//! played through the batched engine.

mod common;
use common::search_matches_brute_force;

use envs::consensus::protocols;
use envs::consensus::{verify, Comm, EnvConfig, EnvSpec, Faults, Identity, Limits, Report};

fn spec(n: usize, f: usize, comm: Comm, faults: Faults, rounds: u8) -> EnvSpec {
    let cfg = EnvConfig {
        n,
        f,
        comm,
        faults,
        identity: Identity::Authenticated,
        ..EnvConfig::default()
    };
    EnvSpec::new(&cfg, rounds).unwrap()
}

fn check(name: &str, n: usize, comm: Comm, faults: Faults, rounds: Option<u8>) -> Report {
    let p = protocols::scripted(name).unwrap();
    let s = spec(n, 1, comm, faults, rounds.unwrap_or(p.rounds()));
    verify(&s, &*p, &Limits::default()).unwrap()
}

#[test]
fn floodset_tolerates_a_crash_in_f_plus_one_rounds() {
    for n in [3, 4] {
        let r = check("floodset", n, Comm::Agreement, Faults::Crash, None);
        assert!(r.verified, "n = {n}: {r:?}");
        // Every agent has an input under crash faults: n placements x 2^n.
        assert_eq!(r.instances as usize, n << n);
    }
    // Omission faults: correct agents still agree (the faulty one may not).
    assert!(check("floodset", 3, Comm::Agreement, Faults::Omission, None).verified);
    // One exchange is not enough (f + 1 rounds are needed): a crash that
    // reaches one agent only splits the decision.
    let r = check("floodset", 3, Comm::Agreement, Faults::Crash, Some(2));
    assert_eq!((r.broken_instances, r.instances), (3, 24));
    let cex = r.counterexample.unwrap();
    assert_eq!(cex.violated, vec!["agreement"]);
    assert_eq!(cex.rounds[0].crashed.len(), 1);
    assert!(cex.render().contains("crashes; its message does not reach"));
}

#[test]
fn majority_falls_to_one_crash() {
    // Inputs split 2-1 with the faulty agent on the majority side that has
    // a tie otherwise (6 of 24): its crash reaches one agent only.
    let r = check("majority", 3, Comm::Agreement, Faults::Crash, None);
    assert_eq!((r.broken_instances, r.instances), (6, 24));
}

#[test]
fn atomic_commit_needs_the_votes_flooded() {
    // All vote yes (3 placements of 24 instances); the faulty agent's yes
    // reaches one agent before it crashes: one commits, the other aborts.
    let r = check("vote_commit", 3, Comm::AtomicCommit, Faults::Crash, None);
    assert_eq!((r.broken_instances, r.instances), (3, 24));
    assert_eq!(r.counterexample.unwrap().violated, vec!["P1 agreement"]);
    for n in [3, 4] {
        let r = check("flood_commit", n, Comm::AtomicCommit, Faults::Crash, None);
        assert!(r.verified, "n = {n}: {r:?}");
    }
    // Omission: the faulty agent hears every yes and commits while its own
    // vote never arrives, so the others abort. P1 binds it too (uniform).
    let r = check(
        "flood_commit",
        3,
        Comm::AtomicCommit,
        Faults::Omission,
        None,
    );
    assert_eq!((r.broken_instances, r.instances), (3, 24));
    assert_eq!(r.counterexample.unwrap().violated, vec!["P1 agreement"]);
}

#[test]
fn atomic_commit_properties_are_named() {
    use envs::consensus::comm::outcome;
    use envs::consensus::rules::{Episode, Instance};
    let s = spec(3, 1, Comm::AtomicCommit, Faults::Crash, 3);
    let mut ep = Episode::start(
        &s,
        Instance {
            byzantine: 0b001,
            inputs: 0b011,
            sender: 0,
        },
    );
    // A commit with a no vote (agent 2's) breaks P3.
    ep.decided = 0b110;
    ep.values = 0b110;
    let o = outcome(&s, &ep);
    assert!(o.agreement && !o.validity && !o.termination);
    assert_eq!(
        o.violated(),
        vec!["P3 commit only if all voted yes", "P5 termination"]
    );
    // All yes, nothing failed, an abort: P4. After a crash it is allowed.
    let mut ep = Episode::start(
        &s,
        Instance {
            byzantine: 0b001,
            inputs: 0b111,
            sender: 0,
        },
    );
    ep.decided = 0b111;
    assert_eq!(
        outcome(&s, &ep).violated(),
        vec!["P4 commit if all voted yes and nothing failed"]
    );
    ep.crashed = 0b001;
    ep.decided = 0b110;
    assert!(outcome(&s, &ep).honest_wins());
}

#[test]
fn search_agrees_with_brute_force() {
    let cases: &[(&str, usize, Comm, Faults, u8)] = &[
        ("floodset", 3, Comm::Agreement, Faults::Crash, 2),
        ("floodset", 3, Comm::Agreement, Faults::Crash, 3),
        ("floodset", 3, Comm::Agreement, Faults::Omission, 3),
        ("majority", 3, Comm::Agreement, Faults::Crash, 2),
        ("majority", 4, Comm::Agreement, Faults::Omission, 2),
        ("vote_commit", 3, Comm::AtomicCommit, Faults::Crash, 2),
        ("vote_commit", 3, Comm::AtomicCommit, Faults::Omission, 3),
        ("flood_commit", 3, Comm::AtomicCommit, Faults::Crash, 3),
        ("flood_commit", 3, Comm::AtomicCommit, Faults::Omission, 3),
    ];
    for &(name, n, comm, faults, rounds) in cases {
        let p = protocols::scripted(name).unwrap();
        search_matches_brute_force(&spec(n, 1, comm, faults, rounds), &*p);
    }
}
