//! The round-based consensus game as the runner plays it (`game =
//! "consensus"`, the default). An evaluation run scores the fixed honest
//! protocol against each scripted (or a frozen) adversary; a training run
//! plays a batch per epoch (and, for a learning honest team, a batch of
//! replayed counterexamples), and every row scores both teams, sampled and
//! exactly, next to the verifier's optimum.

use crate::config::{Experiment, Schedule};
use crate::export::{csv_bytes, read_metrics, MetricsRow, TimingRow};
use crate::games::consensus::config::{ByzantineTeam, HonestTeam, Resolved};
use crate::games::consensus::score::{exact, optimal, row, sample, write_report, RowInput};
use crate::games::consensus::teams::team::{frozen_actor, Byzantine, Honest};
use crate::games::consensus::teams::{
    ByzantinePolicy, HonestPolicy, LearnedByzantine, LearnedHonest,
};
use crate::games::consensus::teams::{ReplayByzantine, Rollout, ScriptedHonest};
use crate::runner::{At, Game, Learned, Network, Played, Side};
use crate::streams::stream;
use crate::timing::Timing;
use agents::{Buffer, Learner};
use envs::consensus::view::{byz_obs_size, obs_size};
use envs::consensus::{BatchEnv, Instance, Protocol, Report};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// A consensus run in progress: the teams, the batches they play, and what
/// the verifier found.
pub struct Consensus<'a> {
    res: &'a Resolved,
    honest: Honest,
    byzantine: Byzantine,
    env: BatchEnv,
    /// Replays of the verifier's counterexamples, a batch at a time.
    replay_env: BatchEnv,
    rollout: Rollout,
    /// The verifier's report on a fixed honest protocol, which cannot change.
    fixed_report: Option<Option<Report>>,
    /// Every counterexample found against the learning honest team, for replay.
    replays: Vec<(Instance, Vec<Vec<u8>>)>,
    /// The honest protocol as of the last row, which Twins runs between rows.
    protocol: Option<Arc<dyn Protocol>>,
}

/// The consensus game's part of `state.safetensors`.
#[derive(Serialize, Deserialize)]
pub struct Saved {
    /// Counterexamples kept for replay (`train.replay_counterexamples`).
    #[serde(default)]
    replays: Vec<(Instance, Vec<Vec<u8>>)>,
}

impl<'a> Consensus<'a> {
    pub fn new(res: &'a Resolved) -> anyhow::Result<Consensus<'a>> {
        let mut init = stream(res.exp.seed, 0);
        Ok(Consensus {
            res,
            honest: Honest::new(res, &mut init)?,
            byzantine: Byzantine::new(res, &mut init)?,
            env: BatchEnv::new(res.spec.clone(), res.exp.train.batch),
            replay_env: BatchEnv::new(res.spec.clone(), 0),
            rollout: Rollout::default(),
            fixed_report: None,
            replays: vec![],
            protocol: None,
        })
    }

    /// Which learning teams update this epoch (`train.schedule`).
    fn turns(&self, epoch: u64) -> (bool, bool) {
        let tc = &self.res.exp.train;
        match tc.schedule {
            Schedule::Simultaneous => (true, true),
            Schedule::Alternating => {
                let honest_turn = (epoch / tc.block.max(1)).is_multiple_of(2);
                let both = self.honest.learner().is_some() && self.byzantine.learner().is_some();
                (honest_turn || !both, !honest_turn || !both)
            }
        }
    }
}

impl Game for Consensus<'_> {
    type Row = MetricsRow;
    type Saved = Saved;

    fn exp(&self) -> &Experiment {
        &self.res.exp
    }

    fn name(&self) -> &str {
        self.res.name()
    }

    fn describe(&self) -> String {
        self.res.spec.describe()
    }

    fn notes(&self) -> Vec<String> {
        self.res.spec.impossibility().into_iter().collect()
    }

    fn trains(&self) -> bool {
        self.res.trains()
    }

    /// An evaluation run: the verifier's report on the fixed protocol, then
    /// one row per scripted adversary (or the frozen one).
    fn baselines(
        &mut self,
        out: &Path,
        say: &dyn Fn(String),
        timing: &mut Timing,
    ) -> anyhow::Result<Vec<MetricsRow>> {
        let res = self.res;
        if res.trains() {
            return Ok(vec![]);
        }
        let HonestTeam::Protocol(protocol) = &res.honest else {
            unreachable!("a run without learning has a fixed honest protocol")
        };
        let clock = Instant::now();
        let report = optimal(res, &**protocol, say)?;
        timing.push(TimingRow {
            run: res.name().into(),
            stage: "verify".into(),
            seconds: clock.elapsed().as_secs_f64(),
            episodes_per_second: None,
            episodes: None,
        });
        if let Some(r) = &report {
            write_report(out, r)?;
            say(format!(
                "verifier: optimal attack rate {} ({}/{} instances broken){}",
                r.optimal_attack_rate,
                r.broken_instances,
                r.instances,
                if r.verified { ", verified" } else { "" }
            ));
            if r.counterexample.is_some() {
                say(format!(
                    "  counterexample: {}",
                    out.join("counterexample.txt").display()
                ));
            }
        }
        say(format!(
            "{:<12} {:>12} {:>12} {:>12} {:>10}",
            "adversary", "honest win", "exact win", "attack", "optimum"
        ));
        let players: Vec<(String, Box<dyn ByzantinePolicy>, bool)> = match &res.byzantine {
            ByzantineTeam::Scripted(names) => names
                .iter()
                .map(|name| {
                    let (policy, deterministic) =
                        crate::games::consensus::teams::team::adversary(name, protocol);
                    (name.clone(), policy, deterministic)
                })
                .collect(),
            ByzantineTeam::Frozen(c) => {
                let actor = frozen_actor(res, c)?;
                vec![(
                    "frozen".into(),
                    Box::new(LearnedByzantine::new(actor, true)) as Box<dyn ByzantinePolicy>,
                    true,
                )]
            }
            ByzantineTeam::Learned(_) => unreachable!("learning runs train"),
        };
        let mut rows = vec![];
        for (k, (name, mut byz, deterministic)) in players.into_iter().enumerate() {
            let mut honest = ScriptedHonest {
                protocol: Arc::clone(protocol),
            };
            let mut rng = stream(res.exp.seed, 1 + k as u64);
            let clock = Instant::now();
            let sampled = sample(res, &mut honest, &mut *byz, &mut rng);
            let secs = clock.elapsed().as_secs_f64();
            let exact = match deterministic {
                true => exact(res, &mut honest, &mut *byz),
                false => None,
            };
            timing.push(TimingRow {
                run: res.name().into(),
                stage: format!("eval {name}"),
                seconds: secs,
                episodes_per_second: Some(sampled.episodes as f64 / secs.max(1e-9)),
                episodes: None,
            });
            let r = row(
                res,
                RowInput {
                    honest: protocol.name(),
                    byzantine: name.clone(),
                    epoch: 0,
                    episodes: 0,
                    sampled: &sampled,
                    exact,
                    report: report.as_ref(),
                    honest_stats: None,
                    byzantine_stats: None,
                },
            );
            let cell = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
            say(format!(
                "{:<12} {:>12.4} {:>12} {:>12} {:>10}",
                name,
                r.honest_win_rate,
                cell(r.exact_honest_win_rate),
                cell(r.exact_attack_rate),
                cell(r.optimal_attack_rate)
            ));
            rows.push(r);
        }
        Ok(rows)
    }

    fn learner(&self, side: Side) -> Option<&Learner> {
        match side {
            Side::Honest => self.honest.learner(),
            Side::Byzantine => self.byzantine.learner(),
        }
    }

    fn learner_mut(&mut self, side: Side) -> Option<&mut Learner> {
        match side {
            Side::Honest => self.honest.learner_mut(),
            Side::Byzantine => self.byzantine.learner_mut(),
        }
    }

    fn network(&self, side: Side) -> Network {
        network(&self.res.spec, side)
    }

    /// Twins runs the honest protocol as of the last row, fixed until the next.
    fn begin_stretch(&mut self) -> anyhow::Result<()> {
        self.protocol = Some(self.honest.protocol(self.res)?);
        Ok(())
    }

    /// One epoch: a batch played by both teams (and, for a learning honest
    /// team, a batch of replayed counterexamples), paid, and learned from.
    fn epoch(
        &mut self,
        at: &At,
        play: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        let (res, epoch) = (self.res, at.epoch);
        let (exp, spec) = (&res.exp, &res.spec);
        let protocol = self.protocol.clone().expect("a stretch began");
        let (learn_honest, learn_byzantine) = self.turns(epoch);
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
            None => &mut **byzantine_fixed.insert(self.byzantine.policy(&protocol, false)?.0),
        };
        self.env.reset(play);
        self.rollout.play(&mut self.env, hp, bp, play);

        let (mut honest_stats, mut byzantine_stats) = (None, None);
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
                self.rollout.play(&mut self.replay_env, p, &mut r, play);
                p.reward(&self.replay_env, &exp.rewards);
            }
            if let Some(buf) = &p.record {
                honest_stats = Some(l.update(buf, update)?);
            }
        }
        if let (Some(p), Some(l)) = (&mut byzantine_net, self.byzantine.learner_mut()) {
            p.reward(&self.env, &exp.rewards);
            if let Some(buf) = &p.record {
                byzantine_stats = Some(l.update(buf, update)?);
            }
        }
        Ok(Played {
            episodes: self.env.len() as u64,
            honest: honest_stats,
            byzantine: byzantine_stats,
        })
    }

    /// One evaluation point: the verifier's optimum for the honest protocol
    /// as it stands (greedy if learned), both teams sampled and, where both
    /// are deterministic, scored exactly over every instance.
    fn evaluate(
        &mut self,
        at: &At,
        learned: &Learned,
        out: &Path,
        say: &dyn Fn(String),
        _timing: &mut Timing,
    ) -> anyhow::Result<MetricsRow> {
        let res = self.res;
        let protocol = self.honest.protocol(res)?;
        let report = match &self.fixed_report {
            Some(r) => r.clone(),
            None => {
                let r = optimal(res, &*protocol, say)?;
                if self.honest.learner().is_none() {
                    self.fixed_report = Some(r.clone());
                }
                r
            }
        };
        if let Some(r) = &report {
            write_report(out, r)?;
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
            &mut stream(res.exp.seed, 1000 + at.evals),
        );
        let mut h = self.honest.policy(true)?;
        let (mut b, deterministic) = self.byzantine.policy(&protocol, true)?;
        let exact = deterministic
            .then(|| exact(res, &mut *h, &mut *b))
            .flatten();
        Ok(row(
            res,
            RowInput {
                honest: self.honest.name(),
                byzantine: self.byzantine.name(),
                epoch: at.epoch,
                episodes: at.episodes,
                sampled: &sampled,
                exact,
                report: report.as_ref(),
                honest_stats: learned.honest.mean(),
                byzantine_stats: learned.byzantine.mean(),
            },
        ))
    }

    fn summary(&self, r: &MetricsRow) -> String {
        let cell = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
        format!(
            "honest win {:.3} (exact {})  attack {} / optimum {}",
            r.honest_win_rate,
            cell(r.exact_honest_win_rate),
            cell(r.exact_attack_rate),
            cell(r.optimal_attack_rate),
        )
    }

    fn optimum(&self, row: &MetricsRow) -> Option<f64> {
        row.optimal_attack_rate
    }

    fn verified(&self, row: &MetricsRow) -> bool {
        row.verified == Some(true)
    }

    fn write_rows(&self, rows: &[MetricsRow]) -> anyhow::Result<Vec<u8>> {
        csv_bytes(rows)
    }

    fn read_rows(&self, path: &Path) -> anyhow::Result<Vec<MetricsRow>> {
        read_metrics(path)
    }

    fn saved(&self) -> Saved {
        Saved {
            replays: self.replays.clone(),
        }
    }

    fn restore(&mut self, saved: Saved) {
        self.replays = saved.replays;
    }
}

/// A team's network in the consensus game: what it sees and its heads,
/// for a training run and for hardening alike.
pub fn network(spec: &envs::consensus::EnvSpec, side: Side) -> Network {
    let (obs_dim, heads) = match side {
        Side::Honest => (obs_size(spec), 1),
        Side::Byzantine => (byz_obs_size(spec), spec.byz_action_len()),
    };
    Network {
        obs_dim,
        heads,
        rounds: spec.rounds(),
    }
}

/// Runs the experiment, writing its files to `out`; returns the metrics rows.
pub fn run(res: &Resolved, out: &Path, quiet: bool) -> anyhow::Result<Vec<MetricsRow>> {
    run_with(res, out, quiet, false)
}

/// As [`run`]; with `resume`, a training run whose folder holds a saved
/// state goes on from it, to the same result as an uninterrupted run.
pub fn run_with(
    res: &Resolved,
    out: &Path,
    quiet: bool,
    resume: bool,
) -> anyhow::Result<Vec<MetricsRow>> {
    let say = crate::out::sayer(quiet);
    crate::runner::run(&mut Consensus::new(res)?, out, &say, quiet, resume)
}
