//! Every combination of the game's switches at small size: communication
//! mode x synchrony x identity x fault model. Each is either refused by
//! validation with a reason that names the key, or played: random honest
//! moves against the random adversary, checking shapes, masks, decisions
//! that are never reversed (P2), termination by the round cap and
//! determinism.

use envs::consensus::adversaries::{self, Adversary};
use envs::consensus::rules::{all, bits};
use envs::consensus::view::{byz_obs_size, obs_size};
use envs::consensus::{
    protocols, BatchEnv, Comm, EnvConfig, EnvSpec, Faults, Identity, Switch, Synchrony, NONE,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Plays one batch of random episodes; returns every episode's final state
/// and outcome, for the determinism check.
fn play(spec: Arc<EnvSpec>, seed: u64) -> Vec<String> {
    let (n, rounds) = (spec.n(), spec.rounds());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut env = BatchEnv::new(spec.clone(), 64);
    env.reset(&mut rng);
    let adversary: Box<dyn Adversary> =
        adversaries::scripted("random", protocols::scripted("majority").unwrap().into()).unwrap();
    let (a, heads) = (spec.byz_action_len(), spec.heads());
    let mut obs = vec![0f32; obs_size(&spec)];
    let mut byz_obs = vec![0f32; byz_obs_size(&spec)];
    let mut mask = vec![0u8; a];
    let mut prev: Vec<(u32, u32)> = (0..env.len()).map(|_| (0, 0)).collect();
    while !env.done() {
        let r = env.round();
        assert!(r <= rounds, "{}: past the round cap", spec.describe());
        let legal = env.honest_mask();
        assert_eq!(
            legal[0],
            r < rounds,
            "send is masked in the last round only"
        );
        let mut honest = vec![0u8; env.len() * n];
        let mut byz = vec![NONE; env.len() * a];
        for e in 0..env.len() {
            let ep = *env.episode(e);
            assert_eq!(env.acting(e) & !all(n), 0);
            for i in bits(env.acting(e)) {
                env.encode_honest(e, i, &mut obs);
                assert!(obs.iter().all(|&x| x == 0.0 || x == 1.0));
                let choices: Vec<u8> = (0..3).filter(|&c| legal[c as usize]).collect();
                honest[e * n + i] = choices[rng.random_range(0..choices.len())];
            }
            env.encode_byzantine(e, &mut byz_obs);
            assert!(byz_obs.iter().all(|&x| x == 0.0 || x == 1.0));
            env.byz_mask(e, &mut mask);
            // Every head may always carry nothing.
            assert!(mask.iter().all(|&m| m & 1 << NONE != 0 && m < 8));
            adversary.act(
                &spec,
                r,
                &ep,
                env.inbox(e),
                &mut rng,
                &mut byz[e * a..][..a],
            );
            let delay_heads = if spec.delays() { n * n } else { 0 };
            assert_eq!(a, spec.f() * n * heads + delay_heads);
        }
        env.step(&honest, &byz);
        for (e, p) in prev.iter_mut().enumerate() {
            let ep = env.episode(e);
            // P2: a decision made in an earlier round is never reversed.
            assert_eq!(ep.decided & p.0, p.0, "{}", spec.describe());
            assert_eq!(ep.values & p.0, p.1 & p.0, "{}", spec.describe());
            *p = (ep.decided, ep.values);
        }
    }
    (0..env.len())
        .map(|e| {
            let (ep, o) = (env.episode(e), env.outcome(e));
            // Everyone still running has decided by the round cap.
            assert!(o.termination, "{}: {ep:?}", spec.describe());
            assert_eq!(ep.undecided(&spec), 0);
            format!("{ep:?} {o:?}")
        })
        .collect()
}

#[test]
fn every_combination_is_played_or_refused_with_a_reason() {
    let mut played = 0;
    let mut refused = vec![];
    for &comm in Comm::ALL {
        for &synchrony in Synchrony::ALL {
            for &identity in Identity::ALL {
                for &faults in Faults::ALL {
                    for (n, f) in [(3, 1), (4, 1), (4, 0)] {
                        let cfg = EnvConfig {
                            n,
                            f,
                            comm,
                            synchrony,
                            identity,
                            faults,
                            ..EnvConfig::default()
                        };
                        match EnvSpec::new(&cfg, 3) {
                            Ok(spec) => {
                                let spec = Arc::new(spec);
                                let a = play(spec.clone(), 7);
                                assert_eq!(a, play(spec, 7), "same seed, same episodes");
                                played += 1;
                            }
                            Err(e) => {
                                assert!(e.key.starts_with("env."), "{e}");
                                assert!(e.reason.len() > 20, "a reason, not a code: {e}");
                                refused.push((comm, synchrony, identity, faults, e.key));
                            }
                        }
                    }
                }
            }
        }
    }
    // What is built: synchronous agreement under every identity and fault
    // model, atomic commit under crash and omission faults, and broadcast
    // and interactive consistency with Byzantine faults over pki or
    // authenticated channels.
    // Delays (partial synchrony, asynchrony) for agreement and atomic
    // commit over pki and authenticated channels.
    let delayed = 2 * 2 * 3 * 3 + 2 * 2 * 2 * 3;
    assert_eq!(played, 3 * 3 * 3 + 3 * 2 * 3 + 2 * 3 * 2 + delayed);
    for (comm, synchrony, identity, faults, key) in refused {
        // The first switch at fault is named, in this order.
        let broadcasts = comm.broadcasts();
        let why = if broadcasts && identity == Identity::Anonymous {
            "env.identity"
        } else if (broadcasts && faults != Faults::Byzantine)
            || (comm, faults) == (Comm::AtomicCommit, Faults::Byzantine)
        {
            "env.faults"
        } else {
            assert_ne!(synchrony, Synchrony::Synchronous);
            if broadcasts {
                "env.synchrony"
            } else {
                assert_eq!(identity, Identity::Anonymous);
                "env.identity"
            }
        };
        assert_eq!(key, why, "{comm:?} {synchrony:?} {identity:?} {faults:?}");
    }
}
