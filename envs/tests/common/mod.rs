//! What the integration tests share: the brute force that checks the
//! verifier's searches by playing every adversary schedule.

use envs::consensus::protocols::Protocol;
use envs::consensus::rules::bits;
use envs::consensus::{instances, verify, BatchEnv, EnvSpec, Faults, Limits, NONE};
use std::sync::Arc;

/// Optimal attack rate by brute force: every instance against every
/// adversary schedule (every drop or Byzantine head towards an agent that
/// follows the protocol, and every delay between two such agents, each
/// round it can matter), played through the batched engine. The channel
/// drops what the rules do not allow (a forged signature, a chain too
/// short), so values are enumerated blindly: this shares nothing with the
/// verifier's search but the engine.
fn brute_force(s: &EnvSpec, p: &dyn Protocol) -> u64 {
    let n = s.n();
    let a = s.byz_action_len();
    let mut broken = 0;
    for inst in instances(s) {
        let faulty = inst.byzantine;
        let followers = if s.faults() == Faults::Byzantine {
            !faulty & ((1 << n) - 1)
        } else {
            (1 << n) - 1
        };
        // Per round, the heads enumerated and their values.
        let heads_of = |r: u8| -> Vec<(usize, Vec<u8>)> {
            let mut out = vec![];
            for (bo, b) in bits(faulty).enumerate() {
                for i in bits(followers & !(1 << b)) {
                    match s.faults() {
                        Faults::Byzantine if r < s.rounds() => {
                            for h in 0..s.heads() {
                                // A broadcast's head h carries value h or nothing.
                                let values = if s.broadcasts() {
                                    vec![NONE, h as u8]
                                } else {
                                    vec![NONE, 0, 1]
                                };
                                out.push(((bo * n + i) * s.heads() + h, values));
                            }
                        }
                        Faults::Byzantine => {}
                        _ => out.push((
                            (bo * n + i) * s.heads(),
                            vec![NONE, envs::consensus::rules::DROP],
                        )),
                    }
                }
            }
            if s.may_delay(r) {
                for j in bits(followers) {
                    for i in bits(followers & !(1 << j)) {
                        let holds = (0..s.delta()).chain([NONE]).collect();
                        out.push((s.delay_head(j, i), holds));
                    }
                }
            }
            out
        };
        let rounds: Vec<Vec<(usize, Vec<u8>)>> = (1..=s.rounds()).map(heads_of).collect();
        let per_round: Vec<usize> = rounds
            .iter()
            .map(|hs| hs.iter().map(|(_, v)| v.len()).product())
            .collect();
        let schedules: usize = per_round.iter().product();
        let mut env = BatchEnv::new(Arc::new(s.clone()), 0);
        env.reset_to(&vec![inst; schedules]);
        while !env.done() {
            let r = env.round() as usize;
            let mut honest = vec![0u8; schedules * n];
            let mut byz = vec![NONE; schedules * a];
            let stride: usize = per_round[..r - 1].iter().product();
            for e in 0..schedules {
                for i in bits(env.acting(e)) {
                    honest[e * n + i] = p.act(&env.view(e, i)) as u8;
                }
                let mut code = e / stride % per_round[r - 1];
                for (at, values) in &rounds[r - 1] {
                    byz[e * a + at] = values[code % values.len()];
                    code /= values.len();
                }
            }
            env.step(&honest, &byz);
        }
        if (0..schedules).any(|e| !env.outcome(e).honest_wins()) {
            broken += 1;
        }
    }
    broken
}

/// The verifier's broken instances are exactly the brute force's, and
/// every counterexample it returns loses when replayed.
pub fn search_matches_brute_force(s: &EnvSpec, p: &dyn Protocol) {
    let r = verify(s, p, &Limits::default()).unwrap();
    let what = format!("{} {}", p.name(), s.describe());
    assert_eq!(r.broken_instances, brute_force(s, p), "{what}");
    for (inst, sched) in &r.broken {
        let t = envs::consensus::trace::replay(s, p, *inst, sched);
        assert!(!t.outcome.honest_wins(), "{what}: {inst:?}");
    }
}
