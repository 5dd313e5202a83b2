//! Snowball's speed figures for `selfplay bench`: node-samples drawn per
//! second by honest polls at Avalanche's size, one thread, against the
//! scripted uninformed attack and against a learned adversary's network
//! (every query answered by one batched call a round).

use super::learned::Answerer;
use crate::bench::{Bench, Figure};
use agents::{LearnConfig, Learner};
use envs::sampling::snowball::{Adversary, Batch, SnowballConfig, SnowballSpec, VIEW};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

pub fn bench() -> Bench {
    Bench {
        figures: vec![
            Figure {
                only: "snowball",
                key: "snowball_node_samples_per_s",
                rate: node_samples,
            },
            Figure {
                only: "snowball_learned",
                key: "snowball_learned_node_samples_per_s",
                rate: learned_node_samples,
            },
        ],
        tables: vec![],
    }
}

/// n = 2,000, f = 100 (5%), Avalanche's parameters, the uninformed
/// rebalancing attack (near its threshold, so few nodes decide and nearly
/// every node polls every round), batches of 8 episodes, for about `secs`.
fn node_samples(secs: f64) -> f64 {
    samples_per_second(secs, |b| b.step(Adversary::Rebalance))
}

/// Node-samples per second of n = 2,000, f = 100 (5%) with Avalanche's
/// parameters: batches of 8 episodes, 50 rounds each played by `round`,
/// for about `secs`.
fn samples_per_second(secs: f64, mut round: impl FnMut(&mut Batch)) -> f64 {
    let spec = SnowballSpec::new(2000, 100, &SnowballConfig::default()).expect("a valid game");
    let started = Instant::now();
    let mut polls = 0u64;
    let mut first = 0;
    while started.elapsed().as_secs_f64() < secs {
        let mut b = Batch::new(spec, 1, first, 8);
        for _ in 0..50 {
            round(&mut b);
        }
        polls += b.outcomes().iter().map(|o| o.polls).sum::<u64>();
        first += 8;
    }
    (polls * spec.k as u64) as f64 / started.elapsed().as_secs_f64()
}

/// The same game against a network of the learned adversary's shape
/// (`experiments/snowball_learned.toml`: hidden [32, 32], seeded weights),
/// played greedily as it is evaluated.
fn learned_node_samples(secs: f64) -> f64 {
    let learn = LearnConfig {
        hidden: vec![32, 32],
        ..LearnConfig::default()
    };
    let mut init = ChaCha8Rng::seed_from_u64(1);
    let learner = Learner::new(VIEW, 1, &learn, &mut init).expect("a network");
    let actor = learner.actor().expect("a network");
    let mut answerer = Answerer::new(&actor, true);
    samples_per_second(secs, |b| {
        b.poll();
        answerer.answers(b, &mut init);
        b.answer(&answerer.actions);
    })
}
