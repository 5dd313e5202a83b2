//! `selfplay harden FILE`: from a fixed honest protocol to a verified one.
//! Each iteration verifies the honest protocol exactly. If it is broken, a
//! fresh attacker trains against it until it reaches the verifier's optimum
//! (or its budget ends) and joins a pool; then the honest team retrains
//! against the pool plus replays of every counterexample the verifier has
//! found so far; with `verify_every`, the verifier also checks it during the
//! retraining, stopping at a verified protocol and queueing new
//! counterexamples. It stops when the protocol is verified or the iterations
//! end; with `attempts`, an attempt out of iterations starts over from the
//! starting protocol.

use crate::export::{csv_bytes, write_atomic};
use crate::games::consensus::config::{HonestTeam, Resolved};
use crate::games::consensus::score::exact;
use crate::games::consensus::teams::{
    ByzantinePolicy, GreedyHonest, LearnedByzantine, LearnedHonest, ReplayByzantine, Rollout,
};
use crate::streams::stream;
use agents::checkpoint::{self, Meta};
use agents::learner::Actor;
use agents::{Buffer, Learner};
use anyhow::bail;
use envs::consensus::view::{byz_obs_size, encode, obs_size};
use envs::consensus::Switch;
use envs::consensus::{verify, BatchEnv, Instance, Limits, Protocol};
use serde::Serialize;
use std::path::Path;

/// One iteration of hardening: a row of `metrics.csv`.
#[derive(Serialize, Clone, Debug)]
pub struct HardenRow {
    pub run: String,
    pub seed: u64,
    pub n: usize,
    pub f: usize,
    pub rounds: u8,
    pub identity: String,
    pub faults: String,
    /// Which start (see `harden.attempts`), from 0.
    pub attempt: usize,
    /// Iteration within the attempt.
    pub iteration: usize,
    /// Honest training episodes so far (after distillation).
    pub honest_episodes: u64,
    /// Episodes this iteration's attacker trained for.
    pub attack_episodes: Option<u64>,
    /// The trained attacker's success, greedy, over every instance.
    pub attack_rate: Option<f64>,
    /// The verifier's figure for the honest protocol at this iteration.
    pub optimal_attack_rate: f64,
    pub verified: bool,
    pub broken_instances: u64,
    pub instances: u64,
    /// Attackers in the pool and counterexamples kept for replay.
    pub pool: usize,
    pub replays: usize,
}

/// Clones `protocol` into the honest network on every view it can meet.
fn distill(
    res: &Resolved,
    learner: &mut Learner,
    protocol: &dyn Protocol,
    say: &dyn Fn(String),
) -> anyhow::Result<()> {
    let spec = &res.spec;
    let limits = Limits {
        max_work: res.exp.eval.max_work,
    };
    let (_, seen) = crate::games::consensus::explain::reachable(spec, protocol, &limits)?;
    let d = obs_size(spec);
    let (mut obs, mut masks, mut actions) = (vec![], vec![], vec![]);
    let mut x = vec![0.0; d];
    for (key, a) in &seen {
        crate::games::consensus::explain::with_view(spec, key, |v| encode(v, &mut x));
        obs.extend_from_slice(&x);
        masks.push(if key.0 >= spec.rounds() { 0b110 } else { 0b111 });
        actions.push(*a as u32);
    }
    let mut rng = stream(res.exp.seed, 3);
    let epochs = res.exp.harden.distill_epochs;
    let matched = learner.imitate(&obs, &masks, &actions, epochs, &mut rng)?;
    say(format!(
        "distilled {} into the honest network: {:.1}% of its {} reachable views matched",
        protocol.name(),
        matched * 100.0,
        seen.len()
    ));
    Ok(())
}

/// `selfplay harden`: a consensus experiment, hardened until verified. It
/// keeps no state to resume from (it is not yet a schedule of the runner).
#[derive(clap::Args, Debug, Clone)]
pub struct HardenArgs {
    /// Experiment file (TOML) of the consensus game; its [harden] table sets
    /// the iterations (experiments/harden.toml is an example).
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub flags: crate::folder::RunFlags,
}

/// Runs `selfplay harden`: the file read, the folder opened and locked,
/// then the attack-verify-defend loop.
pub fn command(a: &HardenArgs) -> Result<(), String> {
    let res = super::config::load_with(&a.file, &a.flags.sets()).map_err(|e| e.to_string())?;
    let out = a.flags.out(res.name());
    let mode = a.flags.mode(false);
    let _folder = crate::folder::open(&out, mode).map_err(|e| format!("{e:#}"))?;
    crate::runner::one_thread_inside_runs();
    let say = crate::out::sayer(a.flags.quiet);
    harden(&res, &out, &say).map_err(|e| format!("{e:#}"))?;
    Ok(())
}

pub fn harden(res: &Resolved, out: &Path, say: &dyn Fn(String)) -> anyhow::Result<Vec<HardenRow>> {
    let exp = &res.exp;
    let spec = &res.spec;
    let hc = &exp.harden;
    if spec.f() == 0 {
        bail!("env.f = 0: nothing attacks, nothing to harden");
    }
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    write_atomic(&out.join("config.toml"), toml::to_string(exp)?.as_bytes())?;
    let mut init = stream(exp.seed, 0);
    let mut play = stream(exp.seed, 1);
    let mut upd = stream(exp.seed, 2);
    let (hd, bd, heads) = (obs_size(spec), byz_obs_size(spec), spec.byz_action_len());
    let limits = Limits {
        max_work: exp.eval.max_work,
    };
    // The honest network as it stands, played greedily: what the verifier checks.
    let greedy = |l: &Learner| -> anyhow::Result<GreedyHonest> {
        Ok(GreedyHonest {
            name: "hardened".into(),
            policy: l.actor()?.policy,
            rounds: spec.rounds(),
        })
    };
    let batch = exp.train.batch;
    let mut rows: Vec<HardenRow> = vec![];
    let mut rollout = Rollout::default();
    // The protocol with the lowest optimal attack rate seen: what hardening delivers.
    let mut best: Option<(f64, agents::mlp::Frozen)> = None;
    // Each attempt starts over from the starting protocol (fresh weights,
    // pool and replays; the random streams run on), so a run that settles
    // in a broken protocol gets another independent try.
    'attempts: for attempt in 0..hc.attempts {
        let mut honest = Learner::new(hd, 1, &exp.honest.learn, &mut init)?;
        match &res.honest {
            HonestTeam::Protocol(p) => distill(res, &mut honest, &**p, say)?,
            HonestTeam::Learned(Some(c)) => {
                c.into_learner(&mut honest).map_err(anyhow::Error::msg)?
            }
            HonestTeam::Learned(None) => {}
        }
        let mut pool: Vec<Actor> = vec![];
        let mut replays: Vec<(Instance, Vec<Vec<u8>>)> = vec![];
        let mut honest_episodes = 0u64;
        let tag = if hc.attempts > 1 {
            format!("attempt {attempt}, ")
        } else {
            String::new()
        };
        for it in 0..=hc.iterations {
            let protocol = greedy(&honest)?;
            let report = verify(spec, &protocol, &limits)?;
            let mut row = HardenRow {
                run: res.name().into(),
                seed: exp.seed,
                n: spec.n(),
                f: spec.f(),
                rounds: spec.rounds(),
                identity: spec.identity().name().into(),
                faults: spec.faults().name().into(),
                attempt,
                iteration: it,
                honest_episodes,
                attack_episodes: None,
                attack_rate: None,
                optimal_attack_rate: report.optimal_attack_rate,
                verified: report.verified,
                broken_instances: report.broken_instances,
                instances: report.instances,
                pool: pool.len(),
                replays: replays.len(),
            };
            let better = best
                .as_ref()
                .is_none_or(|(b, _)| report.optimal_attack_rate < *b);
            if better {
                best = Some((report.optimal_attack_rate, protocol.policy.clone()));
            }
            let save = |rows: &[HardenRow], honest: &Learner| -> anyhow::Result<()> {
                let meta = Meta {
                    team: "honest".into(),
                    obs_dim: hd,
                    heads: 1,
                    hidden: exp.honest.learn.hidden.clone(),
                    rounds: spec.rounds(),
                    episodes: honest_episodes,
                    config: toml::to_string(exp)?,
                };
                checkpoint::save(&out.join("honest.safetensors"), honest, &meta)
                    .map_err(anyhow::Error::msg)?;
                if better {
                    checkpoint::save(&out.join("honest_best.safetensors"), honest, &meta)
                        .map_err(anyhow::Error::msg)?;
                }
                write_atomic(&out.join("metrics.csv"), &csv_bytes(rows)?)?;
                Ok(())
            };
            if report.verified || it == hc.iterations {
                say(format!(
                    "{tag}iteration {it}: optimal attack rate {}{}",
                    report.optimal_attack_rate,
                    if report.verified {
                        ": verified"
                    } else {
                        ": out of iterations"
                    }
                ));
                rows.push(row);
                save(&rows, &honest)?;
                if report.verified {
                    break 'attempts;
                }
                break;
            }

            // ---- Attack: a fresh attacker until it reaches the optimum or its budget ends.
            let mut attacker = Learner::new(bd, heads, &exp.byzantine.learn, &mut init)?;
            let frozen = honest.actor()?;
            let mut env = BatchEnv::new(spec.clone(), batch);
            let mut trained = 0u64;
            let mut rate = 0.0;
            loop {
                let mut h = LearnedHonest::new(frozen.clone(), true);
                let mut b = LearnedByzantine::new(attacker.actor()?, true);
                rate =
                    exact(res, &mut h, &mut b).map_or(rate, |t| t.rate(t.episodes - t.honest_wins));
                if rate >= report.optimal_attack_rate || trained >= hc.attack_episodes {
                    break;
                }
                for _ in 0..(exp.train.eval_every / batch as u64).max(1) {
                    let mut b = LearnedByzantine::new(attacker.actor()?, false);
                    b.record = Some(Buffer::new(bd, heads));
                    env.reset(&mut play);
                    rollout.play(&mut env, &mut h, &mut b, &mut play);
                    b.reward(&env, &exp.rewards);
                    attacker.update(b.record.as_ref().expect("recording"), &mut upd)?;
                    trained += env.len() as u64;
                }
            }
            row.attack_episodes = Some(trained);
            row.attack_rate = Some(rate);
            say(format!(
                "{tag}iteration {it}: optimal attack rate {} ({} of {} instances); a new attacker reached {rate} in {trained} episodes",
                report.optimal_attack_rate, report.broken_instances, report.instances
            ));
            rows.push(row);
            save(&rows, &honest)?;
            pool.push(attacker.actor()?);
            replays.extend(report.broken);

            // ---- Defend: the honest team against the pool and every counterexample so far.
            let replay_batch = ((batch as f64 * hc.replay_fraction).round() as usize).max(1);
            let mut main_env = BatchEnv::new(spec.clone(), batch);
            let mut replay_env = BatchEnv::new(spec.clone(), 0);
            let mut cursor = 0;
            let mut done = 0u64;
            let mut epoch = 0usize;
            // The newest attacker keeps learning against the honest team as it
            // changes; every other epoch an older attacker from the pool plays.
            let mut live = attacker;
            while done < hc.defend_episodes {
                let mut h = LearnedHonest::new(honest.actor()?, false);
                h.record = Some(Buffer::new(hd, 1));
                h.step_reward = exp.rewards.per_step();
                let live_turn = epoch.is_multiple_of(2);
                let mut b = if live_turn {
                    let mut b = LearnedByzantine::new(live.actor()?, false);
                    b.record = Some(Buffer::new(bd, heads));
                    b
                } else {
                    LearnedByzantine::new(pool[(epoch / 2) % pool.len()].clone(), false)
                };
                main_env.reset(&mut play);
                rollout.play(&mut main_env, &mut h, &mut b, &mut play);
                h.reward(&main_env, &exp.rewards);
                if live_turn {
                    b.reward(&main_env, &exp.rewards);
                    live.update(b.record.as_ref().expect("recording"), &mut upd)?;
                }
                // Replays of the counterexamples, cycling through them.
                let picked: Vec<&(Instance, Vec<Vec<u8>>)> = (0..replay_batch)
                    .map(|k| &replays[(cursor + k) % replays.len()])
                    .collect();
                cursor = (cursor + replay_batch) % replays.len();
                let insts: Vec<Instance> = picked.iter().map(|(i, _)| *i).collect();
                let mut r = ReplayByzantine {
                    schedules: picked.iter().map(|(_, s)| s.clone()).collect(),
                };
                replay_env.reset_to(&insts);
                h.traj_offset = batch * spec.n();
                rollout.play(
                    &mut replay_env,
                    &mut h,
                    &mut r as &mut dyn ByzantinePolicy,
                    &mut play,
                );
                h.reward(&replay_env, &exp.rewards);
                let stats = honest.update(h.record.as_ref().expect("recording"), &mut upd)?;
                if !stats.policy_loss.is_finite() {
                    bail!("training diverged: honest team, hardening iteration {it}");
                }
                let before = done;
                done += (batch + replay_batch) as u64;
                epoch += 1;
                // The verifier in the loop, as in co-training: stop at a verified
                // protocol (the next iteration confirms it), else queue what breaks it.
                let every = hc.verify_every;
                if every > 0 && done / every > before / every && done < hc.defend_episodes {
                    let check = verify(spec, &greedy(&honest)?, &limits)?;
                    if check.verified {
                        break;
                    }
                    replays.extend(check.broken);
                }
            }
            honest_episodes += done;
        }
    }
    let (best_rate, best_policy) = best.expect("at least one iteration");
    let table = crate::games::consensus::explain::explain(
        spec,
        &GreedyHonest {
            name: format!("hardened (best seen: optimal attack rate {best_rate})"),
            policy: best_policy,
            rounds: spec.rounds(),
        },
        &limits,
    )
    .map_err(anyhow::Error::msg)?;
    write_atomic(&out.join("protocol.txt"), table.as_bytes())?;
    say(format!(
        "wrote {} and {}",
        out.join("metrics.csv").display(),
        out.join("protocol.txt").display()
    ));
    Ok(rows)
}
