//! The Rust engines' own rate, for `python/bench.py` (docs/speed.md): each
//! game's batch stepped by a Rust loop, with uniformly random legal
//! actions drawn in Rust (ChaCha8), no Python in the loop and no
//! observation encoded but what the game's own masks need. Counted in
//! agent-steps as the Python side counts them: one per acting honest
//! agent, and one per episode where the adversary moves.

use crate::experiment;
use envs::broadcast::play::{self, Batch, Choice, HONEST_HEADS};
use envs::consensus::rules::{bits, ACTIONS};
use envs::consensus::{BatchEnv, NONE};
use envs::sampling::SlushEnv;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use selfplay::games::broadcast::game::RbJob;
use selfplay::games::sampling::game::SlushJob;
use std::time::Instant;

/// A uniformly random class among the bits of `mask` (0 if none).
fn pick(mask: u8, rng: &mut ChaCha8Rng) -> u8 {
    let k = mask.count_ones();
    if k == 0 {
        return 0;
    }
    let mut r = rng.random_range(0..k);
    for c in 0..8 {
        if mask >> c & 1 == 1 {
            if r == 0 {
                return c;
            }
            r -= 1;
        }
    }
    0
}

/// Episodes of `len` played until `seconds` pass: (agent-steps, episodes, seconds).
fn consensus(config: &str, set: &[String], len: usize, seconds: f64) -> PyResult<(u64, u64, f64)> {
    let res = crate::load(config, set)?;
    let spec = res.spec.clone();
    let (n, a) = (spec.n(), spec.byz_action_len());
    let mut env = BatchEnv::new(spec.clone(), len);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut honest, mut byz, mut heads) = (vec![0u8; len * n], vec![NONE; len * a], vec![0u8; a]);
    let (start, mut steps, mut episodes) = (Instant::now(), 0u64, 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        env.reset(&mut rng);
        while !env.done() {
            let allowed: u8 = env
                .honest_mask()
                .iter()
                .enumerate()
                .take(ACTIONS)
                .fold(0, |m, (k, &ok)| m | (ok as u8) << k);
            for e in 0..len {
                let over = env.round() > spec.rounds() || env.episode(e).finished(&spec);
                for i in bits(env.acting(e)) {
                    honest[e * n + i] = pick(allowed, &mut rng);
                    steps += 1;
                }
                if a > 0 && !over {
                    env.byz_mask(e, &mut heads);
                    for (h, &m) in heads.iter().enumerate() {
                        byz[e * a + h] = pick(m, &mut rng);
                    }
                    steps += 1;
                }
            }
            env.step(&honest, &byz);
        }
        episodes += len as u64;
    }
    Ok((steps, episodes, start.elapsed().as_secs_f64()))
}

fn slush(config: &str, set: &[String], len: usize, seconds: f64) -> PyResult<(u64, u64, f64)> {
    let exp = experiment(config, set, "slush")?;
    let job = SlushJob::new(exp)
        .map_err(|e| PyValueError::new_err(format!("{config} (game slush): {e}")))?;
    let spec = job.spec.clone();
    let (n, a) = (spec.n, spec.byz_action_len());
    let mut env = SlushEnv::new(spec, len);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut honest, mut answers, mut queries) = (vec![0u8; len * n], vec![NONE; len * a], vec![]);
    let (start, mut steps, mut episodes) = (Instant::now(), 0u64, 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        env.reset(&mut rng);
        while !env.done() {
            env.draw(&mut rng);
            env.queries(&mut queries);
            let mut asked = vec![false; len];
            for q in &queries {
                answers[q.episode * a + q.ordinal * n + q.querier] = rng.random_range(0..3u8);
                asked[q.episode] = true;
            }
            steps += asked.iter().filter(|&&x| x).count() as u64;
            env.answer(&answers);
            let allowed = env.honest_mask();
            for e in 0..len {
                for i in bits(env.acting(e)) {
                    honest[e * n + i] = pick(allowed, &mut rng);
                    steps += 1;
                }
            }
            env.step(&honest);
        }
        episodes += len as u64;
    }
    Ok((steps, episodes, start.elapsed().as_secs_f64()))
}

fn broadcast(config: &str, set: &[String], len: usize, seconds: f64) -> PyResult<(u64, u64, f64)> {
    let exp = experiment(config, set, "reliable_broadcast")?;
    let job = RbJob::new(exp)
        .map_err(|e| PyValueError::new_err(format!("{config} (game reliable_broadcast): {e}")))?;
    let (spec, reading) = (job.spec, job.reading());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let rows = play::honest_rows(reading);
    let mut obs = vec![0.0f32; rows * play::honest_obs_size(&spec, reading)];
    let mut masks = vec![0u8; rows * HONEST_HEADS];
    let (start, mut steps, mut episodes) = (Instant::now(), 0u64, 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        let starts = selfplay::games::broadcast::play::starts(
            &spec,
            &[],
            0,
            len,
            job.rb.faulty_sender_share,
            &mut rng,
        );
        let mut b = Batch::new(spec, starts);
        let mut choices = vec![Choice::default(); len];
        while !b.done() {
            for (e, choice) in choices.iter_mut().enumerate() {
                let ep = &b.episodes[e];
                if ep.done {
                    continue;
                }
                if ep.pending != 0 {
                    let who: Vec<usize> =
                        (0..spec.n).filter(|&x| ep.pending >> x & 1 == 1).collect();
                    for x in who {
                        let view = b.view(e, x);
                        let turned =
                            play::honest_inputs(&spec, &view, reading, &mut obs, &mut masks);
                        let acts: Vec<u32> =
                            masks.iter().map(|&m| pick(m, &mut rng) as u32).collect();
                        b.decide(e, x, play::decision_of(reading, &acts, turned));
                        steps += 1;
                    }
                    continue;
                }
                if choice.classes.is_empty() && b.end_if_stuck(e) {
                    continue;
                }
                let m = b.adversary_mask(e, choice);
                choice.classes.push(pick(m, &mut rng) as u32);
                steps += 1;
                if b.chosen(choice) {
                    let c = std::mem::take(choice);
                    match b.adversary_step(e, &c) {
                        Some(step) => b.play(e, step),
                        None => b.stop(e),
                    }
                }
            }
        }
        episodes += len as u64;
    }
    Ok((steps, episodes, start.elapsed().as_secs_f64()))
}

/// For `python/bench.py`: the Rust engine of the game `config` names
/// stepped by a Rust loop for about `seconds` in batches of `num_envs`
/// episodes: `(agent_steps, episodes, seconds)`.
#[pyfunction]
#[pyo3(signature = (config, set, num_envs, seconds))]
pub fn _engine_rate(
    py: Python<'_>,
    config: &str,
    set: Vec<String>,
    num_envs: usize,
    seconds: f64,
) -> PyResult<(u64, u64, f64)> {
    if num_envs == 0 {
        return Err(PyValueError::new_err("num_envs must be at least 1"));
    }
    let game = crate::_game_of(config, set.clone())?;
    py.detach(|| match game.as_str() {
        "consensus" => consensus(config, &set, num_envs, seconds),
        "slush" => slush(config, &set, num_envs, seconds),
        "reliable_broadcast" => broadcast(config, &set, num_envs, seconds),
        other => Err(PyValueError::new_err(format!(
            "{config}: game = \"{other}\" has no Python environment"
        ))),
    })
}
