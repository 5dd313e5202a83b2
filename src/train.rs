//! The training loop: play a batch, pay the teams, update the learning ones,
//! and every `eval_every` episodes write a row that scores both teams,
//! sampled and exactly, next to the verifier's optimum. [`train`] reads top
//! to bottom; each step is one method of [`Training`], which owns the run's
//! state (teams, streams, counters, rows, replays).

use crate::config::{Resolved, Schedule};
use crate::export::{csv_bytes, read_metrics, write_atomic, MetricsRow, TimingRow};
use crate::run::{exact, optimal, row, sample, stream, write_report, RowInput};
use crate::state::{saved_state, RunState};
use crate::teams::team::{Byzantine, Honest};
use crate::teams::{ByzantinePolicy, HonestPolicy, LearnedByzantine, LearnedHonest};
use crate::teams::{ReplayByzantine, Rollout};
use crate::timing::Timing;
use agents::checkpoint::{self, Meta};
use agents::{Buffer, Learner, Stats, StatsSum};
use anyhow::bail;
use envs::view::{byz_obs_size, obs_size};
use envs::{BatchEnv, Instance, Protocol, Report};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub use crate::state::{can_resume, STATE};

/// Trains the learning teams of `res`, writing rows, checkpoints and state
/// into `out`; with `resume`, goes on from the state saved there.
pub fn train(
    res: &Resolved,
    out: &Path,
    say: &dyn Fn(String),
    quiet: bool,
    resume: bool,
) -> anyhow::Result<Vec<MetricsRow>> {
    let mut run = Training::new(res, out, say, quiet)?;
    // A resumed run already has its last evaluation point.
    let mut evaluated = resume && run.restore()?;
    loop {
        if !std::mem::take(&mut evaluated) {
            run.evaluate()?;
            run.save()?;
        }
        if run.episodes >= res.exp.train.episodes {
            break;
        }
        // The goal is reached; training on would only let the protocol drift.
        if res.exp.train.stop_when_verified && run.honest.learner().is_some() && run.verified() {
            let at = run.episodes;
            run.say(format!(
                "verified at {at} episodes: training stops (train.stop_when_verified)"
            ));
            break;
        }
        let clock = Instant::now();
        let (from, next) = (run.episodes, run.next_evaluation());
        // Twins runs the honest protocol as of the evaluation point.
        let protocol = run.honest.protocol(res)?;
        while run.episodes < next {
            run.epoch(&protocol)?;
        }
        let trained = run.episodes - from;
        let to = run.episodes;
        run.timing
            .train(res.name(), to, clock.elapsed().as_secs_f64(), trained);
    }
    run.finish()
}

/// A training run in progress.
struct Training<'a> {
    res: &'a Resolved,
    out: &'a Path,
    say: &'a dyn Fn(String),
    bar: ProgressBar,
    honest: Honest,
    byzantine: Byzantine,
    /// Rollouts of training batches, and one evaluation stream per row.
    play: ChaCha8Rng,
    /// Minibatch order in the learners' updates.
    update: ChaCha8Rng,
    env: BatchEnv,
    /// Replays of the verifier's counterexamples, a batch at a time.
    replay_env: BatchEnv,
    rollout: Rollout,
    /// Learner statistics since the last row.
    honest_stats: Acc,
    byzantine_stats: Acc,
    rows: Vec<MetricsRow>,
    timing: Timing,
    /// The verifier's report on a fixed honest protocol, which cannot change.
    fixed_report: Option<Option<Report>>,
    /// The lowest optimal attack rate of the learning honest team so far.
    best_optimal: Option<f64>,
    /// Every counterexample found against the learning honest team, for replay.
    replays: Vec<(Instance, Vec<Vec<u8>>)>,
    episodes: u64,
    epochs: u64,
    evals: u64,
}

impl<'a> Training<'a> {
    fn new(
        res: &'a Resolved,
        out: &'a Path,
        say: &'a dyn Fn(String),
        quiet: bool,
    ) -> anyhow::Result<Training<'a>> {
        let seed = res.exp.seed;
        let mut init = stream(seed, 0);
        Ok(Training {
            res,
            out,
            say,
            bar: progress(res.exp.train.episodes, quiet),
            honest: Honest::new(res, &mut init)?,
            byzantine: Byzantine::new(res, &mut init)?,
            play: stream(seed, 1),
            update: stream(seed, 2),
            env: BatchEnv::new(res.spec.clone(), res.exp.train.batch),
            replay_env: BatchEnv::new(res.spec.clone(), 0),
            rollout: Rollout::default(),
            honest_stats: Acc::default(),
            byzantine_stats: Acc::default(),
            rows: vec![],
            timing: Timing::new(),
            fixed_report: None,
            best_optimal: None,
            replays: vec![],
            episodes: 0,
            epochs: 0,
            evals: 0,
        })
    }

    /// Says `line` above the progress bar.
    fn say(&self, line: String) {
        self.bar.suspend(|| (self.say)(line));
    }

    /// Goes on from the state saved in the run folder, if there is one.
    fn restore(&mut self) -> anyhow::Result<bool> {
        let out = self.out;
        let Some((st, tensors)) = saved_state(self.res, out)? else {
            return Ok(false);
        };
        if let (Some(l), Some(t)) = (self.honest.learner_mut(), st.honest_steps) {
            checkpoint::restore_learner(l, "honest", &tensors, t).map_err(anyhow::Error::msg)?;
        }
        if let (Some(l), Some(t)) = (self.byzantine.learner_mut(), st.byzantine_steps) {
            checkpoint::restore_learner(l, "byzantine", &tensors, t).map_err(anyhow::Error::msg)?;
        }
        let metrics = out.join("metrics.csv");
        self.rows = read_metrics(&metrics)?;
        if self.rows.len() < st.rows {
            bail!(
                "cannot resume {}: {} has fewer rows than the saved state",
                out.display(),
                metrics.display()
            );
        }
        self.rows.truncate(st.rows);
        self.replays = st.replays;
        self.timing = Timing::resume(&out.join("timing.csv"));
        self.best_optimal = self
            .rows
            .iter()
            .filter_map(|r| r.optimal_attack_rate)
            .fold(None, |b: Option<f64>, o| Some(b.map_or(o, |b| b.min(o))));
        (self.episodes, self.epochs, self.evals) = (st.episodes, st.epoch, st.evals);
        self.play.set_word_pos(st.play.parse()?);
        self.update.set_word_pos(st.update.parse()?);
        self.bar.set_position(self.episodes);
        let (epoch, episodes) = (self.epochs, self.episodes);
        self.say(format!("resumed at epoch {epoch}, {episodes} episodes"));
        Ok(true)
    }

    /// Whether the last row's honest protocol was verified.
    fn verified(&self) -> bool {
        self.rows.last().and_then(|r| r.verified) == Some(true)
    }

    /// Episodes at the next evaluation point.
    fn next_evaluation(&self) -> u64 {
        let tc = &self.res.exp.train;
        ((self.episodes / tc.eval_every + 1) * tc.eval_every).min(tc.episodes)
    }

    /// One evaluation point: the verifier's optimum for the honest protocol
    /// as it stands (greedy if learned), both teams sampled and, where both
    /// are deterministic, scored exactly over every instance; one row.
    fn evaluate(&mut self) -> anyhow::Result<()> {
        let res = self.res;
        let clock = Instant::now();
        let protocol = self.honest.protocol(res)?;
        let report = match &self.fixed_report {
            Some(r) => r.clone(),
            None => {
                let r = optimal(res, &*protocol, self.say)?;
                if self.honest.learner().is_none() {
                    self.fixed_report = Some(r.clone());
                }
                r
            }
        };
        if let Some(r) = &report {
            write_report(self.out, r)?;
            if res.exp.train.replay_counterexamples && self.honest.learner().is_some() {
                for b in &r.broken {
                    if !self.replays.contains(b) {
                        self.replays.push(b.clone());
                    }
                }
            }
        }
        let mut h = self.honest.policy(false)?;
        let (mut b, _) = self.byzantine.policy(&protocol, false)?;
        let sampled = sample(
            res,
            &mut *h,
            &mut *b,
            &mut stream(res.exp.seed, 1000 + self.evals),
        );
        let mut h = self.honest.policy(true)?;
        let (mut b, deterministic) = self.byzantine.policy(&protocol, true)?;
        let exact = deterministic
            .then(|| exact(res, &mut *h, &mut *b))
            .flatten();
        let r = row(
            res,
            RowInput {
                honest: self.honest.name(),
                byzantine: self.byzantine.name(),
                epoch: self.epochs,
                episodes: self.episodes,
                sampled: &sampled,
                exact,
                report: report.as_ref(),
                honest_stats: self.honest_stats.take(),
                byzantine_stats: self.byzantine_stats.take(),
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
        let (epoch, episodes) = (self.epochs, self.episodes);
        self.say(format!("epoch {epoch:>5} episodes {episodes:>8}  {line}"));
        self.bar.set_message(line);
        self.rows.push(r);
        self.timing.push(TimingRow {
            run: res.name().into(),
            stage: format!("eval {}", self.evals),
            seconds: clock.elapsed().as_secs_f64(),
            episodes_per_second: None,
            episodes: None,
        });
        self.evals += 1;
        Ok(())
    }

    /// Writes the rows, the checkpoints and the state: together, so that a
    /// killed run keeps all of them as of this evaluation point.
    fn save(&mut self) -> anyhow::Result<()> {
        let (res, out) = (self.res, self.out);
        let (exp, spec) = (&res.exp, &res.spec);
        let config = toml::to_string(exp)?;
        let meta = |team: &str, obs_dim, heads, hidden: &[usize]| Meta {
            team: team.into(),
            obs_dim,
            heads,
            hidden: hidden.to_vec(),
            rounds: spec.rounds(),
            episodes: self.episodes,
            config: config.clone(),
        };
        if let Some(l) = self.honest.learner() {
            let m = meta("honest", obs_size(spec), 1, &exp.honest.learn.hidden);
            checkpoint::save(&out.join("honest.safetensors"), l, &m).map_err(anyhow::Error::msg)?;
            // Keep the protocol with the lowest optimal attack rate so far:
            // a verified one found mid-training is not lost.
            let opt = self.rows.last().and_then(|r| r.optimal_attack_rate);
            if let Some(o) = opt.filter(|&o| self.best_optimal.is_none_or(|b| o < b)) {
                self.best_optimal = Some(o);
                checkpoint::save(&out.join("honest_best.safetensors"), l, &m)
                    .map_err(anyhow::Error::msg)?;
                if o == 0.0 {
                    let at = self.episodes;
                    self.say(format!(
                        "verified at {at} episodes: kept in honest_best.safetensors"
                    ));
                }
            }
        }
        if let Some(l) = self.byzantine.learner() {
            let heads = spec.byz_action_len();
            let m = meta(
                "byzantine",
                byz_obs_size(spec),
                heads,
                &exp.byzantine.learn.hidden,
            );
            checkpoint::save(&out.join("byzantine.safetensors"), l, &m)
                .map_err(anyhow::Error::msg)?;
        }
        write_atomic(&out.join("metrics.csv"), &csv_bytes(&self.rows)?)?;
        // Written with every row, so a killed run's resume finds it.
        let timing = self.timing.so_far(res.name());
        write_atomic(&out.join("timing.csv"), &csv_bytes(&timing)?)?;
        let st = RunState {
            rows: self.rows.len(),
            episodes: self.episodes,
            epoch: self.epochs,
            evals: self.evals,
            play: self.play.get_word_pos().to_string(),
            update: self.update.get_word_pos().to_string(),
            honest_steps: self.honest.learner().map(|l| l.opt.t),
            byzantine_steps: self.byzantine.learner().map(|l| l.opt.t),
            replays: self.replays.clone(),
            config,
        };
        let mut tensors = vec![];
        if let Some(l) = self.honest.learner() {
            tensors.extend(checkpoint::learner_state(l, "honest"));
        }
        if let Some(l) = self.byzantine.learner() {
            tensors.extend(checkpoint::learner_state(l, "byzantine"));
        }
        checkpoint::write_tensors(&out.join(STATE), &tensors, &serde_json::to_string(&st)?)
            .map_err(anyhow::Error::msg)
    }

    /// Which learning teams update this epoch (`train.schedule`).
    fn turns(&self) -> (bool, bool) {
        let tc = &self.res.exp.train;
        match tc.schedule {
            Schedule::Simultaneous => (true, true),
            Schedule::Alternating => {
                let honest_turn = (self.epochs / tc.block.max(1)).is_multiple_of(2);
                let both = self.honest.learner().is_some() && self.byzantine.learner().is_some();
                (honest_turn || !both, !honest_turn || !both)
            }
        }
    }

    /// One epoch: a batch played by both teams (and, for a learning honest
    /// team, a batch of replayed counterexamples), paid, and learned from.
    fn epoch(&mut self, protocol: &Arc<dyn Protocol>) -> anyhow::Result<()> {
        let (res, epoch) = (self.res, self.epochs);
        let (exp, spec) = (&res.exp, &res.spec);
        let (learn_honest, learn_byzantine) = self.turns();
        // A learning team records its steps when it is its turn.
        let mut honest_net = match self.honest.learner() {
            Some(l) => {
                let mut p = LearnedHonest::new(l.actor()?, false);
                if learn_honest {
                    p.record = Some(Buffer::new(obs_size(spec), 1));
                    p.step_reward = exp.rewards.per_step();
                }
                Some(p)
            }
            None => None,
        };
        let mut byzantine_net = match self.byzantine.learner() {
            Some(l) => {
                let mut p = LearnedByzantine::new(l.actor()?, false);
                if learn_byzantine {
                    let heads = spec.byz_action_len();
                    p.record = Some(Buffer::new(byz_obs_size(spec), heads));
                }
                Some(p)
            }
            None => None,
        };
        // A team that does not learn plays its policy (a frozen network greedily),
        // built only then.
        let (mut honest_fixed, mut byzantine_fixed) = (None, None);
        let hp: &mut dyn HonestPolicy = match &mut honest_net {
            Some(p) => p,
            None => &mut **honest_fixed.insert(self.honest.policy(false)?),
        };
        let bp: &mut dyn ByzantinePolicy = match &mut byzantine_net {
            Some(p) => p,
            None => &mut **byzantine_fixed.insert(self.byzantine.policy(protocol, false)?.0),
        };
        self.env.reset(&mut self.play);
        self.rollout.play(&mut self.env, hp, bp, &mut self.play);

        if let (Some(p), Some(l)) = (&mut honest_net, self.honest.learner_mut()) {
            p.reward(&self.env, &exp.rewards);
            if p.record.is_some() && !self.replays.is_empty() {
                // Replays of the verifier's counterexamples, cycling through them.
                let k = exp.train.replay_batch.max(1);
                let start = (epoch as usize * k) % self.replays.len();
                let picked: Vec<&(Instance, Vec<Vec<u8>>)> = (0..k)
                    .map(|j| &self.replays[(start + j) % self.replays.len()])
                    .collect();
                let insts: Vec<Instance> = picked.iter().map(|(i, _)| *i).collect();
                let mut r = ReplayByzantine {
                    schedules: picked.iter().map(|(_, s)| s.clone()).collect(),
                };
                self.replay_env.reset_to(&insts);
                p.traj_offset = self.env.len() * spec.n();
                self.rollout
                    .play(&mut self.replay_env, p, &mut r, &mut self.play);
                p.reward(&self.replay_env, &exp.rewards);
            }
            if let Some(buf) = &p.record {
                let s = learn(l, buf, &mut self.update, "honest", epoch)?;
                self.honest_stats.add(s);
            }
        }
        if let (Some(p), Some(l)) = (&mut byzantine_net, self.byzantine.learner_mut()) {
            p.reward(&self.env, &exp.rewards);
            if let Some(buf) = &p.record {
                let s = learn(l, buf, &mut self.update, "byzantine", epoch)?;
                self.byzantine_stats.add(s);
            }
        }
        self.episodes += self.env.len() as u64;
        self.epochs += 1;
        self.bar.set_position(self.episodes.min(exp.train.episodes));
        Ok(())
    }

    /// Clears the progress bar and writes the finished `timing.csv`.
    fn finish(self) -> anyhow::Result<Vec<MetricsRow>> {
        let (res, out) = (self.res, self.out);
        self.bar.finish_and_clear();
        let timing = self.timing.finished(res.name());
        write_atomic(&out.join("timing.csv"), &csv_bytes(&timing)?)?;
        (self.say)(format!("wrote {}", out.join("metrics.csv").display()));
        Ok(self.rows)
    }
}

/// One update of a learner from a batch, refused if it diverged.
fn learn(
    l: &mut Learner,
    buf: &Buffer,
    update: &mut ChaCha8Rng,
    team: &str,
    epoch: u64,
) -> anyhow::Result<Stats> {
    let s = l.update(buf, update)?;
    finite(team, epoch, &s)?;
    Ok(s)
}

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
