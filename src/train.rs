//! The training loop: play a batch, pay the teams, update the learning ones,
//! and every `eval_every` episodes write a row that scores both teams,
//! sampled and exactly, next to the verifier's optimum.

use crate::config::{ByzantineTeam, HonestTeam, Resolved, Schedule};
use crate::export::read_metrics;
use crate::export::{csv_bytes, write_atomic, MetricsRow, TimingRow};
use crate::run::{exact, frozen_actor, optimal, row, sample, stream, write_report, RowInput};
use crate::teams::{
    ByzantinePolicy, GreedyHonest, HonestPolicy, LearnedByzantine, LearnedHonest, ReplayByzantine,
    Rollout, ScriptedByzantine, ScriptedHonest,
};
use agents::checkpoint::{self, Meta};
use agents::learner::Actor;
use agents::{Buffer, Learner, Stats, StatsSum};
use anyhow::{bail, Context};
use envs::view::{byz_obs_size, obs_size};
use envs::{adversaries, BatchEnv, Instance, Protocol, Report};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Learner statistics summed between two rows.
#[derive(Default)]
struct Acc(StatsSum);

impl Acc {
    fn add(&mut self, s: Stats) {
        self.0.add(&s);
    }

    /// The mean since the last call, or `None` if the team did not update.
    fn take(&mut self) -> Option<Stats> {
        std::mem::take(&mut self.0).mean()
    }
}

fn finite(team: &str, epoch: u64, s: &Stats) -> anyhow::Result<()> {
    if !(s.policy_loss.is_finite() && s.value_loss.is_finite() && s.entropy.is_finite()) {
        bail!(
            "training diverged: {team} team, epoch {epoch}: policy loss {}, value loss {}; \
             the last good checkpoint is kept",
            s.policy_loss,
            s.value_loss
        );
    }
    Ok(())
}

/// The Byzantine side as it plays.
enum Byz {
    Scripted(String),
    Net {
        learner: Option<Box<Learner>>,
        frozen: Option<Actor>,
    },
}

/// A progress bar on stderr: hidden when quiet or when stderr is not a terminal.
fn progress(total: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} episodes, {rate} episodes/s | {msg}")
            .expect("a valid template")
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}", state.per_sec());
                },
            ),
    );
    bar
}

/// What a run needs to go on after it was killed, beside its learners'
/// tensors: saved after every row, last, so it never runs ahead of the CSV.
#[derive(Serialize, Deserialize)]
struct RunState {
    rows: usize,
    episodes: u64,
    epoch: u64,
    evals: u64,
    /// Positions in the play and update streams (u128 as text).
    play: String,
    update: String,
    honest_steps: Option<u64>,
    byzantine_steps: Option<u64>,
    /// Counterexamples kept for replay (`train.replay_counterexamples`).
    #[serde(default)]
    replays: Vec<(Instance, Vec<Vec<u8>>)>,
    /// The experiment as run: a resume must be of the same one.
    config: String,
    // No wall-clock figure: the state's bytes depend on the config and seed
    // only. A resume reads the earlier segments back from `timing.csv`.
}

/// Wall-clock rows of `timing.csv` for one segment (one process: the run,
/// or a resume), kept apart from everything the seed determines.
struct Timing {
    /// The rows of earlier segments (from `timing.csv`) and of this one so far.
    rows: Vec<TimingRow>,
    started: Instant,
    /// Seconds spent training in this segment, and the episodes trained in them.
    secs: f64,
    trained: u64,
}

impl Timing {
    fn new() -> Timing {
        Timing {
            rows: vec![],
            started: Instant::now(),
            secs: 0.0,
            trained: 0,
        }
    }

    /// Picks up the segments a killed or finished run left in `path`: its
    /// rows without the total. An unreadable file loses only wall-clock
    /// figures, so it is skipped, not refused.
    fn resume(path: &Path) -> Timing {
        let mut t = Timing::new();
        if let Ok(mut r) = csv::Reader::from_path(path) {
            t.rows = r.deserialize().filter_map(Result::ok).collect();
            t.rows.retain(|row: &TimingRow| row.stage != "total");
        }
        t
    }

    fn push(&mut self, row: TimingRow) {
        self.rows.push(row);
    }

    fn train(&mut self, name: &str, to: u64, secs: f64, done: u64) {
        (self.secs, self.trained) = (self.secs + secs, self.trained + done);
        self.push(TimingRow {
            run: name.into(),
            stage: format!("train to {to}"),
            seconds: secs,
            episodes_per_second: Some(done as f64 / secs.max(1e-9)),
            episodes: Some(done),
        });
    }

    /// The rows with this segment's row so far (no total: the run goes on).
    fn so_far(&self, name: &str) -> Vec<TimingRow> {
        let segments = self
            .rows
            .iter()
            .filter(|t| t.stage.starts_with("segment "))
            .count();
        let mut rows = self.rows.clone();
        rows.push(TimingRow {
            run: name.into(),
            stage: format!("segment {segments}"),
            seconds: self.started.elapsed().as_secs_f64(),
            episodes_per_second: (self.secs > 0.0).then(|| self.trained as f64 / self.secs),
            episodes: Some(self.trained),
        });
        rows
    }

    /// The rows with this segment's row and the total: every segment's
    /// seconds, and every episode trained over the seconds spent training
    /// them (empty if nothing was trained). Written last: a `timing.csv`
    /// that ends with its total marks a finished run.
    fn finished(&self, name: &str) -> Vec<TimingRow> {
        let mut rows = self.so_far(name);
        let training = rows.iter().filter(|t| t.stage.starts_with("train to "));
        let (secs, trained) = training.fold((0.0, 0), |(s, n), t| {
            (s + t.seconds, n + t.episodes.unwrap_or(0))
        });
        let total = rows
            .iter()
            .filter(|t| t.stage.starts_with("segment "))
            .map(|t| t.seconds)
            .sum();
        rows.push(TimingRow {
            run: name.into(),
            stage: "total".into(),
            seconds: total,
            episodes_per_second: (secs > 0.0 && trained > 0).then(|| trained as f64 / secs),
            episodes: Some(trained),
        });
        rows
    }
}

pub const STATE: &str = "state.safetensors";

/// The state saved in `out`, if there is one; an error if it cannot be read
/// or was made by another experiment (checked before anything is written).
fn saved_state(
    res: &Resolved,
    out: &Path,
) -> anyhow::Result<Option<(RunState, checkpoint::Tensors)>> {
    let path = out.join(STATE);
    if !path.exists() {
        return Ok(None);
    }
    let (json, tensors) = checkpoint::read_tensors(&path).map_err(anyhow::Error::msg)?;
    let st: RunState = serde_json::from_str(&json)
        .with_context(|| format!("{}: not a saved run state", path.display()))?;
    if st.config != toml::to_string(&res.exp)? {
        bail!(
            "cannot resume {}: it was made by a different config (another file, seed or --set)",
            out.display()
        );
    }
    Ok(Some((st, tensors)))
}

/// Whether `out` holds a saved state of this experiment to resume from;
/// an error if it holds one of another experiment.
pub fn can_resume(res: &Resolved, out: &Path) -> anyhow::Result<bool> {
    Ok(saved_state(res, out)?.is_some())
}

pub fn train(
    res: &Resolved,
    out: &Path,
    say: &dyn Fn(String),
    quiet: bool,
    resume: bool,
) -> anyhow::Result<Vec<MetricsRow>> {
    let exp = &res.exp;
    let spec = &res.spec;
    let tc = &exp.train;
    let mut init = stream(exp.seed, 0);
    let mut play = stream(exp.seed, 1);
    let mut upd = stream(exp.seed, 2);

    let (hd, bd, heads) = (obs_size(spec), byz_obs_size(spec), spec.byz_action_len());
    let mut honest_learner = match &res.honest {
        HonestTeam::Learned(ckpt) => {
            let mut l = Learner::new(hd, 1, &exp.honest.learn, &mut init)?;
            if let Some(c) = ckpt {
                c.into_learner(&mut l).map_err(anyhow::Error::msg)?;
            }
            Some(l)
        }
        HonestTeam::Protocol(_) => None,
    };
    let fixed_protocol: Option<Arc<dyn Protocol>> = match &res.honest {
        HonestTeam::Protocol(p) => Some(p.clone()),
        HonestTeam::Learned(_) => None,
    };
    let mut byz = match &res.byzantine {
        ByzantineTeam::Scripted(names) => Byz::Scripted(names[0].clone()),
        ByzantineTeam::Learned(ckpt) => {
            let mut l = Learner::new(bd, heads, &exp.byzantine.learn, &mut init)?;
            if let Some(c) = ckpt {
                c.into_learner(&mut l).map_err(anyhow::Error::msg)?;
            }
            Byz::Net {
                learner: Some(Box::new(l)),
                frozen: None,
            }
        }
        ByzantineTeam::Frozen(c) => Byz::Net {
            learner: None,
            frozen: Some(frozen_actor(res, c)?),
        },
    };
    let honest_name = match &fixed_protocol {
        Some(p) => p.name(),
        None => "learned".into(),
    };
    let byz_name = match &res.byzantine {
        ByzantineTeam::Scripted(names) => names[0].clone(),
        ByzantineTeam::Learned(_) => "learned".into(),
        ByzantineTeam::Frozen(_) => "frozen".into(),
    };

    let mut env = BatchEnv::new(spec.clone(), tc.batch);
    let mut rollout = Rollout::default();
    let (mut hacc, mut bacc) = (Acc::default(), Acc::default());
    let mut rows: Vec<MetricsRow> = vec![];
    let mut timing = Timing::new();
    let mut fixed_report: Option<Option<Report>> = None;
    let mut best_optimal: Option<f64> = None;
    // Every counterexample found against the learning honest team, for replay.
    let mut replays: Vec<(Instance, Vec<Vec<u8>>)> = vec![];
    let mut replay_env = BatchEnv::new(spec.clone(), 0);
    let (mut episodes, mut epoch, mut evals) = (0u64, 0u64, 0u64);
    let bar = progress(tc.episodes, quiet);
    let config_text = toml::to_string(exp)?;
    let mut resumed = false;
    let saved = if resume { saved_state(res, out)? } else { None };
    if let Some((st, tensors)) = saved {
        if let (Some(l), Some(t)) = (honest_learner.as_mut(), st.honest_steps) {
            checkpoint::restore_learner(l, "honest", &tensors, t).map_err(anyhow::Error::msg)?;
        }
        if let (
            Byz::Net {
                learner: Some(l), ..
            },
            Some(t),
        ) = (&mut byz, st.byzantine_steps)
        {
            checkpoint::restore_learner(l, "byzantine", &tensors, t).map_err(anyhow::Error::msg)?;
        }
        rows = read_metrics(&out.join("metrics.csv"))?;
        if rows.len() < st.rows {
            bail!(
                "cannot resume {}: {} has fewer rows than the saved state",
                out.display(),
                out.join("metrics.csv").display()
            );
        }
        rows.truncate(st.rows);
        replays = st.replays;
        timing = Timing::resume(&out.join("timing.csv"));
        best_optimal = rows
            .iter()
            .filter_map(|r| r.optimal_attack_rate)
            .fold(None, |b: Option<f64>, o| Some(b.map_or(o, |b| b.min(o))));
        (episodes, epoch, evals) = (st.episodes, st.epoch, st.evals);
        play.set_word_pos(st.play.parse()?);
        upd.set_word_pos(st.update.parse()?);
        bar.set_position(episodes);
        say(format!("resumed at epoch {epoch}, {episodes} episodes"));
        resumed = true;
    }

    loop {
        // ---- Evaluation point (a resumed run already has this one).
        // The honest protocol as it stands (greedy if learned): verified, and run by twins.
        let honest_actor = honest_learner.as_ref().map(|l| l.actor()).transpose()?;
        let byz_actor: Option<Actor> = match &byz {
            Byz::Net {
                learner: Some(l), ..
            } => Some(l.actor()?),
            Byz::Net { frozen, .. } => frozen.clone(),
            Byz::Scripted(_) => None,
        };
        let protocol: Arc<dyn Protocol> = match (&fixed_protocol, &honest_actor) {
            (Some(p), _) => p.clone(),
            (None, Some(a)) => Arc::new(GreedyHonest {
                name: "learned".into(),
                policy: a.policy.clone(),
                rounds: spec.rounds,
            }),
            _ => unreachable!(),
        };
        if !std::mem::take(&mut resumed) {
            let clock = Instant::now();
            let report = match (&fixed_protocol, &fixed_report) {
                (Some(_), Some(r)) => r.clone(),
                _ => {
                    let r = optimal(res, &*protocol, say)?;
                    if fixed_protocol.is_some() {
                        fixed_report = Some(r.clone());
                    }
                    r
                }
            };
            if let Some(r) = &report {
                write_report(out, r)?;
                if tc.replay_counterexamples && honest_learner.is_some() {
                    for b in &r.broken {
                        if !replays.contains(b) {
                            replays.push(b.clone());
                        }
                    }
                }
            }
            let players =
                |greedy: bool| -> (Box<dyn HonestPolicy>, Box<dyn ByzantinePolicy>, bool) {
                    let h: Box<dyn HonestPolicy> = match &honest_actor {
                        Some(a) => Box::new(LearnedHonest::new(a.clone(), greedy)),
                        None => Box::new(ScriptedHonest {
                            protocol: protocol.clone(),
                        }),
                    };
                    let (b, deterministic): (Box<dyn ByzantinePolicy>, bool) =
                        match (&byz, &byz_actor) {
                            (Byz::Scripted(name), _) => {
                                let name = if name == "none" { "silent" } else { name };
                                let adv = adversaries::scripted(name, protocol.clone())
                                    .expect("validated");
                                let det = adv.deterministic();
                                (Box::new(ScriptedByzantine { adversary: adv }), det)
                            }
                            // A frozen attacker always plays greedily.
                            (Byz::Net { learner, .. }, Some(a)) => (
                                Box::new(LearnedByzantine::new(
                                    a.clone(),
                                    greedy || learner.is_none(),
                                )),
                                true,
                            ),
                            _ => unreachable!(),
                        };
                    (h, b, deterministic)
                };
            let (mut h, mut b, _) = players(false);
            let sampled = sample(res, &mut *h, &mut *b, &mut stream(exp.seed, 1000 + evals));
            let (mut h, mut b, deterministic) = players(true);
            let exact = if deterministic {
                exact(res, &mut *h, &mut *b)
            } else {
                None
            };
            let r = row(
                res,
                RowInput {
                    honest: honest_name.clone(),
                    byzantine: byz_name.clone(),
                    epoch,
                    episodes,
                    sampled: &sampled,
                    exact,
                    report: report.as_ref(),
                    honest_stats: hacc.take(),
                    byzantine_stats: bacc.take(),
                },
            );
            let cell = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
            let line = format!(
                "honest win {:.3} (exact {})  attack {} / optimum {}",
                r.honest_win_rate,
                cell(r.exact_honest_win_rate),
                cell(r.exact_attack_rate),
                cell(r.optimal_attack_rate),
            );
            bar.suspend(|| say(format!("epoch {epoch:>5} episodes {episodes:>8}  {line}")));
            bar.set_message(line);
            rows.push(r);
            // Rows and checkpoints land together: a killed run keeps both as of this point.
            let config = toml::to_string(exp)?;
            let meta = |team: &str, obs_dim, heads, hidden: &[usize]| Meta {
                team: team.into(),
                obs_dim,
                heads,
                hidden: hidden.to_vec(),
                rounds: spec.rounds,
                episodes,
                config: config.clone(),
            };
            if let Some(l) = &honest_learner {
                let m = meta("honest", hd, 1, &exp.honest.learn.hidden);
                checkpoint::save(&out.join("honest.safetensors"), l, &m)
                    .map_err(anyhow::Error::msg)?;
                // Keep the protocol with the lowest optimal attack rate so
                // far: a verified one found mid-training is not lost.
                let opt = report.as_ref().map(|r| r.optimal_attack_rate);
                if let Some(o) = opt.filter(|&o| best_optimal.is_none_or(|b| o < b)) {
                    best_optimal = Some(o);
                    checkpoint::save(&out.join("honest_best.safetensors"), l, &m)
                        .map_err(anyhow::Error::msg)?;
                    if o == 0.0 {
                        bar.suspend(|| {
                            say(format!(
                                "verified at {episodes} episodes: kept in honest_best.safetensors"
                            ))
                        });
                    }
                }
            }
            if let Byz::Net {
                learner: Some(l), ..
            } = &byz
            {
                let m = meta("byzantine", bd, heads, &exp.byzantine.learn.hidden);
                checkpoint::save(&out.join("byzantine.safetensors"), l, &m)
                    .map_err(anyhow::Error::msg)?;
            }
            write_atomic(&out.join("metrics.csv"), &csv_bytes(&rows)?)?;
            timing.push(TimingRow {
                run: res.name().into(),
                stage: format!("eval {evals}"),
                seconds: clock.elapsed().as_secs_f64(),
                episodes_per_second: None,
                episodes: None,
            });
            evals += 1;
            // Written with every row, so a killed run's resume finds it.
            write_atomic(
                &out.join("timing.csv"),
                &csv_bytes(&timing.so_far(res.name()))?,
            )?;
            let st = RunState {
                rows: rows.len(),
                episodes,
                epoch,
                evals,
                play: play.get_word_pos().to_string(),
                update: upd.get_word_pos().to_string(),
                honest_steps: honest_learner.as_ref().map(|l| l.opt.t),
                byzantine_steps: match &byz {
                    Byz::Net {
                        learner: Some(l), ..
                    } => Some(l.opt.t),
                    _ => None,
                },
                replays: replays.clone(),
                config: config_text.clone(),
            };
            let mut tensors = vec![];
            if let Some(l) = &honest_learner {
                tensors.extend(checkpoint::learner_state(l, "honest"));
            }
            if let Byz::Net {
                learner: Some(l), ..
            } = &byz
            {
                tensors.extend(checkpoint::learner_state(l, "byzantine"));
            }
            checkpoint::write_tensors(&out.join(STATE), &tensors, &serde_json::to_string(&st)?)
                .map_err(anyhow::Error::msg)?;
        }
        if episodes >= tc.episodes {
            break;
        }
        // The goal is reached; training on would only let the protocol drift.
        let verified = rows.last().and_then(|r| r.verified) == Some(true);
        if tc.stop_when_verified && honest_learner.is_some() && verified {
            bar.suspend(|| {
                say(format!(
                    "verified at {episodes} episodes: training stops (train.stop_when_verified)"
                ))
            });
            break;
        }

        // ---- Training until the next evaluation point.
        let clock = Instant::now();
        let next = (episodes / tc.eval_every + 1) * tc.eval_every;
        while episodes < next.min(tc.episodes) {
            let (learn_h, learn_b) = match tc.schedule {
                Schedule::Simultaneous => (true, true),
                Schedule::Alternating => {
                    let honest_turn = (epoch / tc.block.max(1)).is_multiple_of(2);
                    let both = honest_learner.is_some()
                        && matches!(
                            byz,
                            Byz::Net {
                                learner: Some(_),
                                ..
                            }
                        );
                    (honest_turn || !both, !honest_turn || !both)
                }
            };
            let mut h_net = match &honest_learner {
                Some(l) => {
                    let mut p = LearnedHonest::new(l.actor()?, false);
                    if learn_h {
                        p.record = Some(Buffer::new(hd, 1));
                        p.step_reward = exp.rewards.per_step();
                    }
                    Some(p)
                }
                None => None,
            };
            let mut h_fixed = fixed_protocol.as_ref().map(|p| ScriptedHonest {
                protocol: p.clone(),
            });
            let mut b_net = match &byz {
                Byz::Net {
                    learner: Some(l), ..
                } => {
                    let mut p = LearnedByzantine::new(l.actor()?, false);
                    if learn_b {
                        p.record = Some(Buffer::new(bd, heads));
                    }
                    Some(p)
                }
                Byz::Net {
                    frozen: Some(a), ..
                } => Some(LearnedByzantine::new(a.clone(), true)),
                _ => None,
            };
            let mut b_fixed = match &byz {
                Byz::Scripted(name) => {
                    let name = if name == "none" { "silent" } else { name };
                    let adv = adversaries::scripted(name, protocol.clone()).expect("validated");
                    Some(ScriptedByzantine { adversary: adv })
                }
                _ => None,
            };
            let hp: &mut dyn HonestPolicy = match (&mut h_net, &mut h_fixed) {
                (Some(p), _) => p,
                (None, Some(p)) => p,
                _ => unreachable!(),
            };
            let bp: &mut dyn ByzantinePolicy = match (&mut b_net, &mut b_fixed) {
                (Some(p), _) => p,
                (None, Some(p)) => p,
                _ => unreachable!(),
            };
            env.reset(&mut play);
            rollout.play(&mut env, hp, bp, &mut play);
            if let (Some(p), Some(l)) = (&mut h_net, &mut honest_learner) {
                p.reward(&env, &exp.rewards);
                if p.record.is_some() && !replays.is_empty() {
                    // Replays of the verifier's counterexamples, cycling through them.
                    let k = tc.replay_batch.max(1);
                    let start = (epoch as usize * k) % replays.len();
                    let picked: Vec<&(Instance, Vec<Vec<u8>>)> = (0..k)
                        .map(|j| &replays[(start + j) % replays.len()])
                        .collect();
                    let insts: Vec<Instance> = picked.iter().map(|(i, _)| *i).collect();
                    let mut r = ReplayByzantine {
                        schedules: picked.iter().map(|(_, s)| s.clone()).collect(),
                    };
                    replay_env.reset_to(&insts);
                    p.traj_offset = env.len() * spec.n;
                    rollout.play(&mut replay_env, p, &mut r, &mut play);
                    p.reward(&replay_env, &exp.rewards);
                }
                if let Some(buf) = &p.record {
                    let s = l.update(buf, &mut upd)?;
                    finite("honest", epoch, &s)?;
                    hacc.add(s);
                }
            }
            if let (
                Some(p),
                Byz::Net {
                    learner: Some(l), ..
                },
            ) = (&mut b_net, &mut byz)
            {
                p.reward(&env, &exp.rewards);
                if let Some(buf) = &p.record {
                    let s = l.update(buf, &mut upd)?;
                    finite("byzantine", epoch, &s)?;
                    bacc.add(s);
                }
            }
            episodes += env.len() as u64;
            epoch += 1;
            bar.set_position(episodes.min(tc.episodes));
        }
        let secs = clock.elapsed().as_secs_f64();
        let done = episodes - rows.last().map_or(0, |r| r.episodes);
        timing.train(res.name(), episodes, secs, done);
    }
    bar.finish_and_clear();
    write_atomic(
        &out.join("timing.csv"),
        &csv_bytes(&timing.finished(res.name()))?,
    )?;
    say(format!("wrote {}", out.join("metrics.csv").display()));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_losses_stop_training_naming_the_team() {
        let ok = Stats::default();
        assert!(finite("honest", 3, &ok).is_ok());
        let bad = Stats {
            value_loss: f64::NAN,
            ..Stats::default()
        };
        let e = finite("byzantine", 0, &bad).unwrap_err().to_string();
        assert!(
            e.starts_with("training diverged: byzantine team, epoch 0")
                && e.contains("value loss NaN"),
            "{e}"
        );
    }
}
