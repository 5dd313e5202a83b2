//! `selfplay bench`: the speed figures docs/speed.md reports. Run it on a
//! release build; each figure is one thread.

use crate::config;
use crate::games::consensus::teams::{LearnedHonest, Rollout, ScriptedByzantine, ScriptedHonest};
use crate::streams::stream;
use agents::{Buffer, LearnConfig, Learner};
use envs::broadcast::{self as rb, RbFaults};
use envs::consensus::view::obs_size;
use envs::consensus::Switch;
use envs::consensus::{
    adversaries, protocols, verify, BatchEnv, EnvConfig, EnvSpec, Identity, Limits, Protocol,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

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

/// Decisions per second of a 64-64 policy's forward pass and sampling
/// alone, on 4096 fixed observations of 59 inputs that are all distinct
/// (each 20 draws of a one, with replacement): what `torch_throughput.py`'s
/// acting figure measures. Each call samples every row and its
/// log-probability.
fn acting_distinct(seconds: f64) -> f64 {
    let (d, batch) = (59, 4096);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let learner = Learner::new(d, 1, &LearnConfig::default(), &mut rng).unwrap();
    let actor = learner.actor().unwrap();
    let mut obs = vec![0.0f32; batch * d];
    for row in obs.chunks_exact_mut(d) {
        for _ in 0..20 {
            row[rng.random_range(0..d)] = 1.0;
        }
    }
    let masks = vec![0b111u8; batch];
    let (mut actions, mut logp) = (vec![0u32; batch], vec![0.0f32; batch]);
    let mut scratch = agents::learner::ActScratch::default();
    let start = Instant::now();
    let mut decisions = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        actor.act(
            &obs,
            &masks,
            batch,
            false,
            &mut rng,
            &mut scratch,
            &mut actions,
            &mut logp,
            None,
        );
        decisions += batch as u64;
    }
    decisions as f64 / start.elapsed().as_secs_f64()
}

/// PPO samples per second: one epoch over a buffer, minibatches of 1024.
fn ppo(seconds: f64) -> f64 {
    let (obs, samples) = (59, 16384);
    let learn = LearnConfig {
        update_epochs: 1,
        ..LearnConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut learner = Learner::new(obs, 1, &learn, &mut rng).unwrap();
    let mut buf = Buffer::new(obs, 1);
    let x: Vec<f32> = (0..obs).map(|k| (k % 3 == 0) as u8 as f32).collect();
    for t in 0..samples {
        buf.push(t, &x, &[0b111], &[(t % 3) as u32], -1.1, 0.0);
        buf.reward_last(t, (t % 2) as f32);
    }
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        done += learner.update(&buf, &mut rng).unwrap().samples;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// The experiment the REINFORCE figure trains, as `selfplay` would run it.
const ANCHOR: &str = include_str!("../experiments/reinforce_like_anchor.toml");

/// Training episodes per second at the PyTorch anchor's settings
/// (`experiments/reinforce_like_anchor.toml`: REINFORCE, honest consensus
/// n=3, 3 rounds, 64-64, batch 512, one gradient step per batch): acting,
/// rewards and update, as the training loop does them, without evaluations.
fn reinforce_train(seconds: f64) -> f64 {
    let exp = config::parse(ANCHOR, "experiments/reinforce_like_anchor.toml")
        .expect("the anchor experiment parses");
    let res =
        crate::games::consensus::config::resolve(exp).expect("the anchor experiment resolves");
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

/// The figures issue 15 names, under stable keys (`selfplay bench --json`).
#[derive(serde::Serialize)]
struct Figures {
    /// `signed_relay` vs `equivocate`, n=4 f=1 pki, batches of 4096.
    engine_episodes_per_s: f64,
    /// Honest decisions of a 64-64 policy, n=4 pki, batch 4096.
    acting_decisions_per_s: f64,
    /// A 64-64 policy's forward pass and sampling alone, on 4096 fixed,
    /// distinct observations of 59 inputs (torch_throughput.py's acting).
    acting_distinct_obs_decisions_per_s: f64,
    /// PPO, one epoch over 16384 samples in minibatches of 1024.
    ppo_samples_per_s: f64,
    /// REINFORCE at the PyTorch anchor's settings.
    reinforce_train_episodes_per_s: f64,
}

/// One stable figure alone, printed as `key value` (for profiling one path).
pub fn only(which: &str, quick: bool) -> Result<(), String> {
    let secs = if quick { 0.2 } else { 2.0 };
    let (key, rate) = match which {
        "acting" => ("acting_decisions_per_s", acting(secs, false)),
        "acting_distinct" => ("acting_distinct_obs_decisions_per_s", acting_distinct(secs)),
        "engine" => (
            "engine_episodes_per_s",
            engine("signed_relay", "equivocate", 4, Identity::Pki, secs),
        ),
        "ppo" => ("ppo_samples_per_s", ppo(secs)),
        "reinforce" => ("reinforce_train_episodes_per_s", reinforce_train(secs)),
        "rb_verify" => {
            rb_table();
            return Ok(());
        }
        _ => {
            return Err(format!(
                "bench --only takes acting, acting_distinct, engine, ppo, reinforce or \
                 rb_verify, not {which}"
            ))
        }
    };
    crate::outln!("{key} {rate:.0}");
    Ok(())
}

/// Prints the figures as text, or (`json`) only the stable ones as one JSON object.
pub fn run(quick: bool, json: bool) {
    let secs = if quick { 0.2 } else { 2.0 };
    if json {
        let f = Figures {
            engine_episodes_per_s: engine("signed_relay", "equivocate", 4, Identity::Pki, secs),
            acting_decisions_per_s: acting(secs, false),
            acting_distinct_obs_decisions_per_s: acting_distinct(secs),
            ppo_samples_per_s: ppo(secs),
            reinforce_train_episodes_per_s: reinforce_train(secs),
        };
        crate::outln!("{}", serde_json::to_string(&f).expect("numbers serialise"));
        return;
    }
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
    crate::outln!("learning: 64-64 ReLU MLP, one thread");
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
        "  {:<44} {:>12.2} M {:>10}",
        "forward + sampling, 4096 distinct observations",
        acting_distinct(secs) / 1e6,
        "2x torch"
    );
    crate::outln!(
        "  {:<44} {:>12.0} k {:>10}",
        "PPO samples, minibatch 1024",
        ppo(secs) / 1e3,
        ">= 400 k"
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
    rb_table();
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
