//! The consensus game's speed figures for `selfplay bench`: its engine,
//! acting and training on it, and its verifier.

use crate::bench::{seconds, Bench, Figure, Table};
use crate::config;
use crate::games::consensus::teams::{LearnedHonest, Rollout, ScriptedByzantine, ScriptedHonest};
use crate::streams::stream;
use agents::{Buffer, LearnConfig, Learner};
use envs::consensus::view::obs_size;
use envs::consensus::Switch;
use envs::consensus::{
    adversaries, protocols, verify, BatchEnv, EnvConfig, EnvSpec, Identity, Limits, Protocol,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

/// The figures issue 15 names, and the tables beside them.
pub fn bench() -> Bench {
    Bench {
        figures: vec![
            Figure {
                only: "engine",
                key: "engine_episodes_per_s",
                rate: |secs| engine("signed_relay", "equivocate", 4, Identity::Pki, secs),
            },
            Figure {
                only: "acting",
                key: "acting_decisions_per_s",
                rate: |secs| acting(secs, false),
            },
            Figure {
                only: "reinforce",
                key: "reinforce_train_episodes_per_s",
                rate: reinforce_train,
            },
        ],
        tables: vec![
            Table {
                only: "engine_table",
                print: engine_table,
            },
            Table {
                only: "learning_consensus",
                print: learning_table,
            },
            Table {
                only: "verify",
                print: verify_table,
            },
        ],
    }
}

/// Scripted teams' episodes per second.
fn engine_table(quick: bool) {
    let secs = seconds(quick);
    crate::outln!("engine: scripted teams, one thread, batches of 4096");
    crate::outln!("  {:<44} {:>14} {:>10}", "game", "episodes/s", "target");
    for (p, a, n, id, target) in [
        ("signed_relay", "equivocate", 4, Identity::Pki, ">= 2.0 M"),
        ("signed_relay", "silent", 4, Identity::Pki, ""),
        ("signed_relay", "random", 4, Identity::Pki, ""),
        ("majority", "equivocate", 4, Identity::Authenticated, ""),
        ("majority", "equivocate", 16, Identity::Authenticated, ""),
    ] {
        let rate = engine(p, a, n, id, secs);
        let game = format!("{p} vs {a}, n={n} f=1 {}", id.name());
        crate::outln!("  {game:<44} {:>12.2} M {target:>10}", rate / 1e6);
    }
}

/// Acting and training on the consensus game.
fn learning_table(quick: bool) {
    let secs = seconds(quick);
    crate::outln!("learning on the consensus game: 64-64 ReLU MLP, one thread");
    crate::outln!("  {:<44} {:>14} {:>10}", "what", "per second", "target");
    crate::outln!(
        "  {:<44} {:>12.2} M {:>10}",
        "honest decisions, acting (n=4 pki, batch 4096)",
        acting(secs, false) / 1e6,
        ">= 2.0 M"
    );
    crate::outln!(
        "  {:<44} {:>12.2} M {:>10}",
        "  the same with canonical views",
        acting(secs, true) / 1e6,
        ""
    );
    crate::outln!(
        "  {:<44} {:>12.1} k {:>10}",
        "REINFORCE episodes trained, anchor settings",
        reinforce_train(secs) / 1e3,
        "1.5x torch"
    );
    crate::outln!(
        "    (experiments/reinforce_like_anchor.toml: n=3, batch 512, one step per batch)"
    );
}

/// The exhaustive verifier's seconds.
fn verify_table(quick: bool) {
    crate::outln!("verify: exhaustive search, one thread");
    crate::outln!(
        "  {:<44} {:>14} {:>12} {:>10}",
        "game",
        "seconds",
        "evaluations",
        "target"
    );
    for (p, n, id, target) in [
        ("signed_relay", 4, Identity::Pki, "< 1 s"),
        ("signed_relay", 5, Identity::Pki, "< 10 s"),
        ("majority", 7, Identity::Authenticated, "< 10 s"),
        ("signed_relay", 4, Identity::Authenticated, ""),
        ("signed_relay", 6, Identity::Pki, ""),
    ] {
        if quick && n > 5 && p == "signed_relay" {
            continue;
        }
        let proto = protocols::scripted(p).unwrap();
        let s = spec(n, 1, id, proto.rounds());
        let start = Instant::now();
        let r = verify(&s, &*proto, &Limits::default()).expect("within limits");
        let game = format!(
            "{p}, n={n} f=1 {} (rate {})",
            id.name(),
            r.optimal_attack_rate
        );
        crate::outln!(
            "  {game:<44} {:>12.3} s {:>12} {target:>10}",
            start.elapsed().as_secs_f64(),
            r.evaluations
        );
    }
}

fn spec(n: usize, f: usize, identity: Identity, rounds: u8) -> Arc<EnvSpec> {
    let cfg = EnvConfig {
        n,
        f,
        identity,
        ..EnvConfig::default()
    };
    Arc::new(EnvSpec::new(&cfg, rounds).expect("bench settings are valid"))
}

/// Episodes per second of `protocol` against `adversary`, on this thread.
fn engine(protocol: &str, adversary: &str, n: usize, identity: Identity, seconds: f64) -> f64 {
    let p: Arc<dyn Protocol> = protocols::scripted(protocol).unwrap().into();
    let s = spec(n, 1, identity, p.rounds());
    let mut honest = ScriptedHonest {
        protocol: p.clone(),
    };
    let mut byz = ScriptedByzantine {
        adversary: adversaries::scripted(adversary, p).unwrap(),
    };
    let mut env = BatchEnv::new(s, 4096);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut rollout = Rollout::default();
    let start = Instant::now();
    let mut episodes = 0;
    while start.elapsed().as_secs_f64() < seconds {
        env.reset(&mut rng);
        rollout.play(&mut env, &mut honest, &mut byz, &mut rng);
        episodes += env.len();
    }
    episodes as f64 / start.elapsed().as_secs_f64()
}

/// Honest decisions per second of a 64-64 learned policy acting on a batch
/// (with canonical views: each view also tries the 6 relabellings of its peers).
fn acting(seconds: f64, canonical_views: bool) -> f64 {
    let cfg = EnvConfig {
        n: 4,
        f: 1,
        identity: Identity::Pki,
        canonical_views,
        ..EnvConfig::default()
    };
    let s = Arc::new(EnvSpec::new(&cfg, 3).unwrap());
    let learn = LearnConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let learner = Learner::new(obs_size(&s), 1, &learn, &mut rng).unwrap();
    let mut honest = LearnedHonest::new(learner.actor().unwrap(), false);
    let mut byz = ScriptedByzantine {
        adversary: adversaries::scripted("silent", protocols::scripted("majority").unwrap().into())
            .unwrap(),
    };
    let mut env = BatchEnv::new(s, 4096);
    let mut rollout = Rollout::default();
    let start = Instant::now();
    let mut decisions = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        env.reset(&mut rng);
        rollout.play(&mut env, &mut honest, &mut byz, &mut rng);
        // One decision per honest agent per round it acted in.
        decisions += (0..env.len())
            .map(|e| {
                let ep = env.episode(e);
                envs::consensus::rules::bits(ep.honest(env.spec()))
                    .map(|i| ep.decided_round[i].max(1) as u64)
                    .sum::<u64>()
            })
            .sum::<u64>();
    }
    decisions as f64 / start.elapsed().as_secs_f64()
}

/// The experiment the REINFORCE figure trains, as `selfplay` would run it.
const ANCHOR: &str = include_str!("../../../experiments/reinforce_like_anchor.toml");

/// Training episodes per second at the PyTorch anchor's settings
/// (`experiments/reinforce_like_anchor.toml`: REINFORCE, honest consensus
/// n=3, 3 rounds, 64-64, batch 512, one gradient step per batch): acting,
/// rewards and update, as the training loop does them, without evaluations.
fn reinforce_train(seconds: f64) -> f64 {
    let exp = config::parse(ANCHOR, "experiments/reinforce_like_anchor.toml")
        .expect("the anchor experiment parses");
    let res = super::config::resolve(exp).expect("the anchor experiment resolves");
    let (exp, spec) = (&res.exp, &res.spec);
    let (mut init, mut play, mut upd) = (
        stream(exp.seed, 0),
        stream(exp.seed, 1),
        stream(exp.seed, 2),
    );
    let d = obs_size(spec);
    let mut learner = Learner::new(d, 1, &exp.honest.learn, &mut init).unwrap();
    // f = 0: the runner's "none", which plays as silent.
    let mut byz = ScriptedByzantine {
        adversary: adversaries::scripted("silent", protocols::scripted("majority").unwrap().into())
            .unwrap(),
    };
    let mut env = BatchEnv::new(spec.clone(), exp.train.batch);
    let mut rollout = Rollout::default();
    let start = Instant::now();
    let mut episodes = 0;
    while start.elapsed().as_secs_f64() < seconds {
        let mut honest = LearnedHonest::new(learner.actor().unwrap(), false);
        honest.record = Some(Buffer::new(d, 1));
        honest.step_reward = exp.rewards.per_step();
        env.reset(&mut play);
        rollout.play(&mut env, &mut honest, &mut byz, &mut play);
        honest.reward(&env, &exp.rewards);
        let buf = honest.record.as_ref().expect("recorded");
        learner.update(buf, &mut upd).unwrap();
        episodes += env.len();
    }
    episodes as f64 / start.elapsed().as_secs_f64()
}
