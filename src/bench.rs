//! `selfplay bench`: the speed figures docs/speed.md reports. Run it on a
//! release build; each figure is one thread.
//!
//! The figures of a game (its engine, its verifier) are the game's own
//! ([`crate::games::Entry::bench`]); this module holds the ones that belong
//! to no game (a policy's forward pass, a PPO update) and prints them all.

use agents::{Buffer, LearnConfig, Learner};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// A stable figure: `bench --json` writes it under `key`, and
/// `bench --only NAME` prints it alone.
pub struct Figure {
    /// The name `--only` takes.
    pub only: &'static str,
    /// Its key in `bench --json`, stable across versions.
    pub key: &'static str,
    /// Its rate per second, measured for about the seconds given.
    pub rate: fn(f64) -> f64,
}

/// A table printed by `bench` as text, and alone by `bench --only NAME`.
pub struct Table {
    pub only: &'static str,
    /// Prints it; `true` for the short runs of `--quick`.
    pub print: fn(bool),
}

/// What `selfplay bench` measures of one game.
#[derive(Default)]
pub struct Bench {
    pub figures: Vec<Figure>,
    pub tables: Vec<Table>,
}

/// The figures that belong to no game.
fn shared() -> Bench {
    Bench {
        figures: vec![
            Figure {
                only: "acting_distinct",
                key: "acting_distinct_obs_decisions_per_s",
                rate: acting_distinct,
            },
            Figure {
                only: "ppo",
                key: "ppo_samples_per_s",
                rate: ppo,
            },
        ],
        tables: vec![Table {
            only: "learning",
            print: learning_table,
        }],
    }
}

/// The games' benches (`Registry::benches`), then the shared one.
fn all(mut games: Vec<Bench>) -> Vec<Bench> {
    games.push(shared());
    games
}

/// The seconds each figure runs for.
pub fn seconds(quick: bool) -> f64 {
    if quick {
        0.2
    } else {
        2.0
    }
}

/// One figure (printed as `key value`, for profiling one path) or one table alone.
pub fn only(games: Vec<Bench>, which: &str, quick: bool) -> Result<(), String> {
    let benches = all(games);
    for b in &benches {
        if let Some(f) = b.figures.iter().find(|f| f.only == which) {
            crate::outln!("{} {:.0}", f.key, (f.rate)(seconds(quick)));
            return Ok(());
        }
        if let Some(t) = b.tables.iter().find(|t| t.only == which) {
            (t.print)(quick);
            return Ok(());
        }
    }
    let names: Vec<&str> = benches
        .iter()
        .flat_map(|b| {
            let figures = b.figures.iter().map(|f| f.only);
            figures.chain(b.tables.iter().map(|t| t.only))
        })
        .collect();
    Err(format!(
        "bench --only takes one of {}, not {which}",
        names.join(", ")
    ))
}

/// Prints every table as text, or (`json`) only the stable figures as one
/// JSON object, the games' first, in `games`' order.
pub fn run(games: Vec<Bench>, quick: bool, json: bool) {
    let benches = all(games);
    if json {
        let figures: Vec<(&str, f64)> = benches
            .iter()
            .flat_map(|b| b.figures.iter())
            .map(|f| (f.key, (f.rate)(seconds(quick))))
            .collect();
        crate::outln!("{}", json_object(&figures));
        return;
    }
    for t in benches.iter().flat_map(|b| b.tables.iter()) {
        (t.print)(quick);
    }
}

/// `{"key":value,...}` in the order given (a map type would sort the keys).
fn json_object(figures: &[(&str, f64)]) -> String {
    let fields: Vec<String> = figures
        .iter()
        .map(|(k, v)| {
            let key = serde_json::to_string(k).expect("a key serialises");
            let value = serde_json::to_string(v).expect("a number serialises");
            format!("{key}:{value}")
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// The shared figures as text.
fn learning_table(quick: bool) {
    let secs = seconds(quick);
    crate::outln!("learning, any game: 64-64 ReLU MLP, one thread");
    crate::outln!("  {:<44} {:>14} {:>10}", "what", "per second", "target");
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
