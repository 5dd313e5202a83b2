//! The textbook facts of docs/rules.md ("Exact analysis"), with the exact rates pinned, and
//! the verifier cross-checked against a brute force through the batched engine.

use envs::consensus::adversaries;
use envs::consensus::protocols::{self, Protocol};
use envs::consensus::rules::bits;
use envs::consensus::trace::replay;
use envs::consensus::{
    instances, verify, BatchEnv, EnvConfig, EnvSpec, Identity, Limits, Report, NONE,
};
use std::sync::Arc;

fn spec(n: usize, f: usize, identity: Identity, rounds: u8) -> EnvSpec {
    let cfg = EnvConfig {
        n,
        f,
        identity,
        ..EnvConfig::default()
    };
    EnvSpec::new(&cfg, rounds).unwrap()
}

fn check(name: &str, n: usize, f: usize, identity: Identity) -> Report {
    let p = protocols::scripted(name).unwrap();
    let s = spec(n, f, identity, p.rounds());
    verify(&s, &*p, &Limits::default()).unwrap()
}

#[test]
fn majority_falls_to_equivocation() {
    // n = 3: the two honest agents disagree on their inputs in half the
    // instances, and then the Byzantine agent tips each its own way.
    let r = check("majority", 3, 1, Identity::Authenticated);
    assert_eq!((r.broken_instances, r.instances), (6, 12));
    assert_eq!(r.optimal_attack_rate, 0.5);
    let cex = r.counterexample.unwrap();
    assert_eq!(cex.violated, vec!["agreement"]);
    // n = 4, hand-checked: three honest inputs split 2-1. With majority 1
    // (3 of 8 vectors) a 0 to one agent makes its count a tie, decided 0,
    // while the others decide 1. With majority 0 every tie also goes to 0.
    let r = check("majority", 4, 1, Identity::Authenticated);
    assert_eq!((r.broken_instances, r.instances), (12, 32));
    assert_eq!(r.optimal_attack_rate, 0.375);
    // Signatures do not help a protocol that never relays.
    assert_eq!(
        check("majority", 4, 1, Identity::Pki).optimal_attack_rate,
        0.375
    );
}

#[test]
fn signed_relay_is_verified_with_pki() {
    for n in [3, 4] {
        let r = check("signed_relay", n, 1, Identity::Pki);
        assert!(r.verified, "n = {n}: {r:?}");
        assert_eq!(r.optimal_attack_rate, 0.0);
        assert_eq!(r.instances as usize, n * (1 << (n - 1)));
        assert!(r.counterexample.is_none());
    }
}

#[test]
fn signed_relay_falls_without_signatures_at_n_3() {
    // Lamport-Shostak-Pease: no protocol survives n <= 3f without signatures.
    // Split inputs (6 of 12) fall as with majority. Unanimous 1s (3 of 12)
    // fall too: C tells A that B said 0, so B's vote is dropped as
    // contradictory, C votes 0 itself, and the 1-1 tie goes to 0.
    let r = check("signed_relay", 3, 1, Identity::Authenticated);
    assert!(!r.verified);
    assert_eq!((r.broken_instances, r.instances), (9, 12));
    assert_eq!(r.optimal_attack_rate, 0.75);
    let cex = r.counterexample.unwrap();
    assert!(!cex.outcome.honest_wins());
    let text = cex.render();
    println!("{text}");
    assert!(text.contains("violated: agreement"), "{text}");
}

#[test]
fn constant_fails_validity_exactly_on_unanimous_ones() {
    // Independent of the adversary: 1 input vector of 2^(n-f) is all 1s.
    for (n, f) in [(3, 1), (4, 1), (5, 2), (3, 0)] {
        let r = check("constant", n, f, Identity::Authenticated);
        assert_eq!(
            r.optimal_attack_rate,
            1.0 / (1 << (n - f)) as f64,
            "n={n} f={f}"
        );
        assert_eq!(r.counterexample.unwrap().violated, vec!["validity"]);
    }
}

#[test]
fn without_byzantine_agents_majority_is_verified() {
    for n in 2..6 {
        assert!(check("majority", n, 0, Identity::Authenticated).verified);
    }
}

#[test]
fn counterexamples_replay_through_the_engine() {
    for (name, n, identity) in [
        ("majority", 3, Identity::Authenticated),
        ("majority", 5, Identity::Anonymous),
        ("signed_relay", 3, Identity::Authenticated),
        ("signed_relay", 4, Identity::Authenticated),
    ] {
        let p: Arc<dyn Protocol> = protocols::scripted(name).unwrap().into();
        let s = spec(n, 1, identity, p.rounds());
        let r = verify(&s, &*p, &Limits::default()).unwrap();
        let Some(cex) = r.counterexample else {
            continue;
        };
        // Replay the schedule in the batched engine, as a Byzantine policy would play it.
        let inst = envs::consensus::Instance {
            byzantine: cex.byzantine.iter().fold(0, |m, &b| m | 1 << b),
            inputs: cex
                .inputs
                .iter()
                .enumerate()
                .fold(0, |m, (i, x)| m | (x.unwrap_or(0) as u32) << i),
            sender: 0,
        };
        let again = replay(&s, &*p, inst, &cex.schedule);
        assert_eq!(again.violated, cex.violated);
        let mut env = BatchEnv::new(Arc::new(s.clone()), 1);
        env.reset_to(&[inst]);
        while !env.done() {
            let r = env.round();
            let mut honest = vec![0u8; n];
            for i in bits(env.acting(0)) {
                honest[i] = p.act(&env.view(0, i)) as u8;
            }
            let silent = vec![NONE; s.byz_action_len()];
            let byz = cex.schedule.get(r as usize - 1).unwrap_or(&silent);
            env.step(&honest, byz);
        }
        assert!(
            !env.outcome(0).honest_wins(),
            "{name} n={n}: {}",
            cex.render()
        );
    }
}

/// Every Byzantine action sequence, tried one by one in the batched engine:
/// no pruning, no independence argument. Returns the broken instances.
fn brute_force(s: &EnvSpec, p: &dyn Protocol) -> u64 {
    let s = Arc::new(s.clone());
    let a = s.byz_action_len();
    let mut broken = 0;
    for inst in instances(&s) {
        let mut lost = false;
        // Depth-first over rounds, each round over the masked action space.
        let mut stack: Vec<Vec<Vec<u8>>> = vec![vec![]];
        while let Some(prefix) = stack.pop() {
            let mut env = BatchEnv::new(s.clone(), 1);
            env.reset_to(&[inst]);
            let mut alive = true;
            for byz in prefix.iter().map(Some).chain(std::iter::once(None)) {
                if env.done() {
                    break;
                }
                let mut honest = vec![0u8; s.n()];
                for i in bits(env.acting(0)) {
                    honest[i] = p.act(&env.view(0, i)) as u8;
                }
                match byz {
                    Some(byz) => env.step(&honest, byz),
                    // Last-round messages are never seen: no need to branch.
                    None if env.round() == s.rounds() => env.step(&honest, &vec![NONE; a]),
                    None => {
                        // Branch on every allowed action for this round.
                        let mut mask = vec![0u8; a];
                        env.byz_mask(0, &mut mask);
                        let lists: Vec<Vec<u8>> = mask
                            .iter()
                            .map(|&m| bits(m as u32).map(|v| v as u8).collect())
                            .collect();
                        let total: usize = lists.iter().map(Vec::len).product();
                        for mut code in 0..total {
                            let mut act = vec![NONE; a];
                            for (h, l) in lists.iter().enumerate() {
                                act[h] = l[code % l.len()];
                                code /= l.len();
                            }
                            let mut next = prefix.clone();
                            next.push(act);
                            stack.push(next);
                        }
                        alive = false;
                    }
                }
            }
            if alive && env.done() && !env.outcome(0).honest_wins() {
                lost = true;
                break;
            }
        }
        broken += lost as u64;
    }
    broken
}

#[test]
fn verifier_agrees_with_brute_force() {
    let cases = [
        ("majority", 3, 1, Identity::Authenticated, 2),
        ("majority", 4, 1, Identity::Anonymous, 2),
        ("majority", 4, 2, Identity::Anonymous, 2),
        ("signed_relay", 3, 1, Identity::Authenticated, 3),
        ("signed_relay", 3, 1, Identity::Pki, 3),
        ("signed_relay", 4, 1, Identity::Pki, 3),
        ("signed_relay", 4, 2, Identity::Authenticated, 2),
        ("majority", 3, 1, Identity::Pki, 3),
        ("constant", 3, 1, Identity::Authenticated, 1),
    ];
    for (name, n, f, identity, rounds) in cases {
        let p = protocols::scripted(name).unwrap();
        let s = spec(n, f, identity, rounds);
        let r = verify(&s, &*p, &Limits::default()).unwrap();
        assert_eq!(
            r.broken_instances,
            brute_force(&s, &*p),
            "{name} n={n} f={f} {identity:?} R={rounds}"
        );
    }
}

#[test]
fn scripted_adversaries_never_beat_the_optimum() {
    // An attack that wins an instance proves the instance broken.
    for (name, n, identity) in [
        ("majority", 3, Identity::Authenticated),
        ("majority", 4, Identity::Authenticated),
        ("signed_relay", 4, Identity::Pki),
        ("signed_relay", 3, Identity::Authenticated),
    ] {
        let p: Arc<dyn Protocol> = protocols::scripted(name).unwrap().into();
        let s = Arc::new(spec(n, 1, identity, p.rounds()));
        let optimum = verify(&s, &*p, &Limits::default())
            .unwrap()
            .broken_instances;
        for adv in ["silent", "equivocate", "twins"] {
            let a = adversaries::scripted(adv, p.clone()).unwrap();
            let insts = instances(&s);
            let mut env = BatchEnv::new(s.clone(), 0);
            env.reset_to(&insts);
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
            while !env.done() {
                let mut honest = vec![0u8; insts.len() * n];
                let mut byz = vec![NONE; insts.len() * s.byz_action_len()];
                for e in 0..insts.len() {
                    for i in bits(env.acting(e)) {
                        honest[e * n + i] = p.act(&env.view(e, i)) as u8;
                    }
                    let out = &mut byz[e * s.byz_action_len()..][..s.byz_action_len()];
                    a.act(&s, env.round(), env.episode(e), env.inbox(e), &mut rng, out);
                }
                env.step(&honest, &byz);
            }
            let won = (0..insts.len())
                .filter(|&e| !env.outcome(e).honest_wins())
                .count() as u64;
            assert!(won <= optimum, "{adv} vs {name} n={n}: {won} > {optimum}");
            if adv == "silent" {
                assert_eq!(won, 0, "{name} survives a crash at time zero");
            }
        }
    }
}
