//! Byzantine broadcast: Dolev-Strong's textbook facts, pinned, and the
//! verifier cross-checked against a brute force over every Byzantine
//! schedule played through the batched engine.

mod common;
use common::search_matches_brute_force;

use envs::consensus::protocols;
use envs::consensus::rules::{bits, Episode, Instance};
use envs::consensus::spec::SENDER;
use envs::consensus::{
    adversaries, instance_count, instances, verify, BatchEnv, Comm, EnvConfig, EnvSpec, Identity,
    Limits, Report, NONE,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

fn spec(n: usize, f: usize, identity: Identity, rounds: u8) -> EnvSpec {
    let cfg = EnvConfig {
        n,
        f,
        comm: Comm::Broadcast,
        identity,
        ..EnvConfig::default()
    };
    EnvSpec::new(&cfg, rounds).unwrap()
}

fn dolev_strong(n: usize, f: usize, identity: Identity, rounds: Option<u8>) -> Report {
    let p = protocols::scripted("dolev_strong").unwrap();
    let s = spec(n, f, identity, rounds.unwrap_or(p.rounds_for(f)));
    verify(&s, &*p, &Limits::default()).unwrap()
}

#[test]
fn instances_give_the_sender_alone_an_input() {
    for (n, f) in [(3, 1), (4, 2), (4, 0)] {
        let s = spec(n, f, Identity::Pki, 3);
        let all = instances(&s);
        assert_eq!(all.len() as f64, instance_count(&s));
        for inst in &all {
            assert_eq!(inst.inputs & !(1 << SENDER), 0);
            assert_eq!(inst.inputs & inst.byzantine, 0);
        }
    }
    // n = 3, f = 1: the sender is honest in 2 placements (2 inputs each)
    // and Byzantine in 1.
    assert_eq!(instances(&spec(3, 1, Identity::Pki, 3)).len(), 5);
}

#[test]
fn dolev_strong_is_verified_with_signatures_for_any_f() {
    // f + 1 rounds of messages, then the decision: rounds = f + 2.
    for (n, f) in [(2, 1), (3, 1), (4, 1), (3, 2), (4, 2), (4, 3)] {
        let r = dolev_strong(n, f, Identity::Pki, None);
        assert!(r.verified, "n = {n}, f = {f}: {r:?}");
        assert_eq!(
            r.instances as f64,
            instance_count(&spec(n, f, Identity::Pki, 3))
        );
    }
}

#[test]
fn dolev_strong_needs_f_plus_one_rounds() {
    // One round of messages too few: a Byzantine sender signs 1 for both
    // honest agents, and its accomplice releases a chain for 0 to one of
    // them only in the last round of messages, when nobody can forward it.
    let r = dolev_strong(4, 2, Identity::Pki, Some(3));
    assert_eq!((r.broken_instances, r.instances), (3, 9));
    let cex = r.counterexample.unwrap();
    assert_eq!(cex.violated, vec!["agreement"]);
    assert!(
        cex.render().contains("forwards 0 and 1"),
        "{}",
        cex.render()
    );
    let r = dolev_strong(3, 1, Identity::Pki, Some(2));
    assert_eq!((r.broken_instances, r.instances), (1, 5));
}

#[test]
fn without_signatures_broadcast_falls_at_n_3() {
    // Lamport-Shostak-Pease: no protocol tolerates f = 1 among 3 without
    // signatures; a relay "the sender said 0" is an unsigned claim.
    let r = dolev_strong(3, 1, Identity::Authenticated, None);
    assert_eq!((r.broken_instances, r.instances), (3, 5));
    assert!(spec(3, 1, Identity::Authenticated, 3)
        .impossibility()
        .is_some());
}

#[test]
fn an_equivocating_sender_does_not_split_dolev_strong() {
    // Scripted equivocation, sampled: a Byzantine sender tells each half of
    // the others a different value. Dolev-Strong's forwards expose it.
    let p = protocols::scripted("dolev_strong").unwrap();
    let s = Arc::new(spec(4, 1, Identity::Pki, 3));
    let adv = adversaries::scripted(
        "equivocate",
        protocols::scripted("dolev_strong").unwrap().into(),
    )
    .unwrap();
    let mut env = BatchEnv::new(s.clone(), 256);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    env.reset(&mut rng);
    let (n, a) = (s.n(), s.byz_action_len());
    while !env.done() {
        let r = env.round();
        let mut honest = vec![0u8; env.len() * n];
        let mut byz = vec![NONE; env.len() * a];
        for e in 0..env.len() {
            for i in bits(env.acting(e)) {
                honest[e * n + i] = p.act(&env.view(e, i)) as u8;
            }
            let ep = *env.episode(e);
            adv.act(&s, r, &ep, env.inbox(e), &mut rng, &mut byz[e * a..][..a]);
        }
        env.step(&honest, &byz);
    }
    let sender_byzantine = (0..env.len())
        .filter(|&e| env.episode(e).is_byzantine(SENDER))
        .count();
    assert!(sender_byzantine > 0);
    assert!((0..env.len()).all(|e| env.outcome(e).honest_wins()));
}

#[test]
fn search_agrees_with_brute_force() {
    let p = protocols::scripted("dolev_strong").unwrap();
    let cases = [
        (3, 1, Identity::Pki, 3),
        (3, 1, Identity::Pki, 2),
        (3, 1, Identity::Authenticated, 3),
        (4, 1, Identity::Pki, 3),
        (4, 1, Identity::Authenticated, 3),
        (4, 2, Identity::Pki, 3),
    ];
    for (n, f, identity, rounds) in cases {
        search_matches_brute_force(&spec(n, f, identity, rounds), &*p);
    }
}

#[test]
fn chains_bind_the_adversary_under_pki() {
    // n = 4, f = 2, Byzantine 0 (the sender) and 1. Round 1: only the
    // sender can sign. Round 2: agent 1 can extend the sender's own chain.
    // Round 3: a chain of 3 signatures needs an honest signer, so only
    // values an honest agent has forwarded can still be sent.
    let s = spec(4, 2, Identity::Pki, 4);
    let mut ep = Episode::start(
        &s,
        Instance {
            byzantine: 0b0011,
            inputs: 0,
            sender: 0,
        },
    );
    let allowed = |ep: &Episode, r: u8, b: usize| {
        (0..2).fold(0u8, |m, h| {
            m | (envs::consensus::rules::allowed(&s, r, ep, b, 2, h) >> h & 1) << h
        })
    };
    assert_eq!(allowed(&ep, 1, 0), 0b11);
    assert_eq!(allowed(&ep, 1, 1), 0b00);
    assert_eq!(allowed(&ep, 2, 1), 0b11);
    assert_eq!(
        allowed(&ep, 2, 0),
        0b00,
        "the sender cannot sign twice in a chain"
    );
    assert_eq!(allowed(&ep, 3, 1), 0b00);
    ep.public = 0b10;
    assert_eq!(allowed(&ep, 3, 1), 0b10);
    // Without signatures anything goes.
    let a = spec(4, 2, Identity::Authenticated, 4);
    assert_eq!(envs::consensus::rules::allowed(&a, 3, &ep, 1, 2, 0), 0b101);
}

fn ic(n: usize, f: usize, identity: Identity, rounds: u8) -> EnvSpec {
    let cfg = EnvConfig {
        n,
        f,
        comm: Comm::InteractiveConsistency,
        identity,
        ..EnvConfig::default()
    };
    EnvSpec::new(&cfg, rounds).unwrap()
}

#[test]
fn interactive_consistency_is_one_dolev_strong_per_entry() {
    let p = protocols::scripted("dolev_strong").unwrap();
    for (n, f) in [(3, 1), (4, 1), (4, 2)] {
        let s = ic(n, f, Identity::Pki, p.rounds_for(f));
        let r = verify(&s, &*p, &Limits::default()).unwrap();
        assert!(r.verified, "n = {n}, f = {f}: {r:?}");
        // Instances are placements times honest input vectors.
        let placements = (0..1u32 << n)
            .filter(|m| m.count_ones() as usize == f)
            .count();
        assert_eq!(r.instances as usize, placements << (n - f));
    }
    // Without signatures the entry of a Byzantine agent is always breakable,
    // so every vector is (n = 3, f = 1).
    let r = verify(
        &ic(3, 1, Identity::Authenticated, 3),
        &*p,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((r.broken_instances, r.instances), (12, 12));
    // One round of messages too few at f = 2.
    let r = verify(&ic(4, 2, Identity::Pki, 3), &*p, &Limits::default()).unwrap();
    assert!(!r.verified);
    assert!(r
        .counterexample
        .unwrap()
        .render()
        .contains("designated sender"));
}

#[test]
fn every_entry_is_the_broadcast_of_its_sender() {
    // Agents are symmetric up to relabelling: the entry of sender k under
    // placement p is agent 0's broadcast under p rotated by -k. This checks
    // the engine's handling of a sender other than agent 0 against the
    // broadcast mode, where the sender is always agent 0.
    let p = protocols::scripted("dolev_strong").unwrap();
    let budget = envs::consensus::budget::Budget::new(f64::INFINITY);
    for (n, f, identity, rounds) in [
        (3, 1, Identity::Authenticated, 3),
        (4, 1, Identity::Authenticated, 3),
        (4, 2, Identity::Pki, 3),
    ] {
        let (s, b) = (ic(n, f, identity, rounds), spec(n, f, identity, rounds));
        let rot = |m: u32, k: usize| ((m >> k) | (m << (n - k))) & ((1 << n) - 1);
        for inst in instances(&s) {
            let k = inst.sender as usize;
            let same = Instance {
                byzantine: rot(inst.byzantine, k),
                inputs: rot(inst.inputs, k),
                sender: 0,
            };
            let entry = envs::consensus::verify::attack(&s, &*p, inst, &budget)
                .0
                .is_some();
            let broadcast = envs::consensus::verify::attack(&b, &*p, same, &budget)
                .0
                .is_some();
            assert_eq!(entry, broadcast, "{inst:?} {}", s.describe());
        }
    }
}
