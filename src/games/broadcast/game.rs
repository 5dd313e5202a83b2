//! Learning reliable broadcast from zero (`game = "reliable_broadcast"`,
//! issue 16): an honest team and an adversary (the Byzantine agents and the
//! scheduler together), both networks from random weights, play batches of
//! episodes (`play`) and learn from pay zero-sum on the properties. Every evaluation row
//! verifies the honest team's greedy protocol exactly (`score`), samples
//! the learned attack against it, keeps the best protocol, and adds the
//! verifier's counterexample to the episodes training replays.
//! See docs/reliable_broadcast_learning.md.

use crate::config::{Experiment, Kind, Schedule};
use crate::export::{csv_bytes, TimingRow};
use crate::games::broadcast::play::{self as rb_play, Adversary, Honest, Scratch};
use crate::games::broadcast::score::{self as rb_score, Greedy, Replay};
use crate::memory::{run_parts, Part, Team};
use crate::runner::{At, Game, Learned, Network, Played, Side};
use crate::stats::wilson;
use crate::streams::stream;
use crate::timing::Timing;
use agents::learner::Actor;
use agents::{Buffer, Learner, Stats};
use anyhow::Context;
use envs::broadcast::config::{Goal, RbConfig};
use envs::broadcast::game::{Msg, Source, Step};
use envs::broadcast::play::{self, Batch, Reading, HONEST_HEADS};
use envs::broadcast::{Instance, Limits, RbFaults, RbSpec};
use envs::consensus::{ConfigError, Faults, Switch};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// A reliable-broadcast experiment, checked.
pub struct RbJob {
    pub exp: Experiment,
    pub spec: RbSpec,
    pub rb: RbConfig,
}

fn refuse(key: &str, value: impl std::fmt::Display, why: impl Into<String>) -> ConfigError {
    ConfigError::new(key, value, why.into())
}

impl RbJob {
    pub fn new(exp: Experiment) -> Result<RbJob, ConfigError> {
        crate::config::check_values(&exp)?;
        let env = &exp.env;
        let faults = match env.faults {
            Faults::Byzantine => RbFaults::Byzantine,
            Faults::Crash => RbFaults::Crash,
            Faults::Omission => {
                return Err(refuse(
                    "env.faults",
                    "\"omission\"",
                    "reliable broadcast has byzantine or crash faults",
                ))
            }
        };
        // The value shown is the named key's own (`env.n = 0`, not `1`).
        let spec = RbSpec::new(env.n, env.f, faults).map_err(|(key, why)| {
            let value = if key == "n" { env.n } else { env.f };
            refuse(&format!("env.{key}"), value, why)
        })?;
        for (key, value, default) in [
            ("env.comm", env.comm.name(), "agreement"),
            ("env.synchrony", env.synchrony.name(), "synchronous"),
            ("env.identity", env.identity.name(), "authenticated"),
        ] {
            if value != default {
                return Err(refuse(
                    key,
                    format!("\"{value}\""),
                    format!(
                        "reliable broadcast has its own rules (asynchronous, authenticated \
                         channels, no rounds): leave {key} unset"
                    ),
                ));
            }
        }
        if env.rounds.is_some() {
            return Err(refuse(
                "env.rounds",
                env.rounds.unwrap_or(0),
                "reliable broadcast has no rounds: runs end in quiescent states",
            ));
        }
        for (key, kind) in [
            ("honest.kind", exp.honest.kind),
            ("byzantine.kind", exp.byzantine.kind),
        ] {
            if kind != Kind::Learned {
                return Err(refuse(
                    key,
                    format!("\"{}\"", kind.name()),
                    "reliable broadcast learns both teams: only \"learned\" applies \
                     (scripted protocols: `selfplay verify --game reliable_broadcast`)",
                ));
            }
        }
        for (key, set) in [
            ("honest.checkpoint", exp.honest.checkpoint.is_some()),
            ("byzantine.checkpoint", exp.byzantine.checkpoint.is_some()),
        ] {
            if set {
                return Err(refuse(
                    key,
                    "(a path)",
                    "reliable broadcast learns from zero",
                ));
            }
        }
        if exp.train.schedule != Schedule::Simultaneous {
            return Err(refuse(
                "train.schedule",
                "\"alternating\"",
                "both teams update after every epoch: only \"simultaneous\" applies",
            ));
        }
        // `train.batch`, `eval.batch` and `eval.episodes` of 0 are refused
        // for every game by `check_values`; each key is named by itself.
        crate::config::check_training(&exp)?;
        let rb = exp.rb.clone().unwrap_or_default();
        if rb.message_cost < 0.0 || rb.message_cost > 1.0 {
            return Err(refuse(
                "rb.message_cost",
                rb.message_cost,
                "a cost per message from 0 to 1 (a broken property costs 1)",
            ));
        }
        if !(0.0..1.0).contains(&rb.replay_fraction) {
            return Err(refuse(
                "rb.replay_fraction",
                rb.replay_fraction,
                "a share of the batch, from 0 up to (not including) 1",
            ));
        }
        if !(0.0..=1.0).contains(&rb.faulty_sender_share) {
            return Err(refuse(
                "rb.faulty_sender_share",
                rb.faulty_sender_share,
                "a share of the batch's fresh episodes, from 0 to 1",
            ));
        }
        if rb.max_states == 0 {
            return Err(refuse(
                "rb.max_states",
                0,
                "the search needs at least 1 state",
            ));
        }
        if rb.goal == Goal::Rules && !rb.view.any_n() {
            return Err(refuse(
                "rb.goal",
                "\"rules\"",
                "threshold rules are read off the guards of the threshold or quorum view: \
                 set rb.view = \"thresholds\" or \"quorums\" (raw counts have no rule at every n)",
            ));
        }
        // Every row's search may grow to `rb.max_states`: one that cannot
        // fit in memory is refused now, not met hours in.
        let limits = Limits {
            max_states: rb.max_states,
            ..Limits::default()
        };
        limits
            .check(&spec)
            .map_err(|why| refuse("rb.max_states", rb.max_states, why))?;
        crate::memory::check(&memory_estimate(&exp, &spec))?;
        Ok(RbJob { exp, spec, rb })
    }

    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("reliable_broadcast")
    }

    /// How the honest network reads views and what it may choose.
    pub fn reading(&self) -> Reading {
        reading(&self.rb)
    }
}

/// How the honest network of an `[rb]` table reads views and what it may choose.
pub fn reading(rb: &RbConfig) -> Reading {
    Reading {
        symmetric: rb.value_symmetric,
        one_value: rb.one_value_per_kind,
        view: rb.view,
        supported: rb.supported_only,
        per_value: rb.per_value,
        sender_broadcasts: rb.sender_broadcasts,
    }
}

/// A rough upper estimate of a run's memory, per key responsible: the
/// batches of episodes, every decision both teams record (at most one
/// honest decision per delivery, a few adversary choices per move: see
/// `play::max_moves`), and the networks with their gradients and moments.
pub fn memory_estimate(exp: &Experiment, spec: &RbSpec) -> Vec<Part> {
    let moves = play::max_moves(spec) as f64;
    // A run's state: every message of every agent, and the moves' log.
    let episode = 256.0 + moves * 16.0;
    let b = exp.train.batch as f64;
    // What, the recipient's base-3 digits, kind, value.
    let levels = 3.0 + (spec.n as f64).log(3.0).ceil();
    let teams = [
        Team {
            side: "honest",
            learn: &exp.honest.learn,
            obs: play::honest_obs_size(spec, reading(&exp.rb.clone().unwrap_or_default())),
            outputs: HONEST_HEADS * 3,
            // One row per decision, or one per value (`rb.per_value`).
            decisions: b
                * (moves + spec.n as f64)
                * play::honest_rows(reading(&exp.rb.clone().unwrap_or_default())) as f64,
        },
        Team {
            side: "byzantine",
            learn: &exp.byzantine.learn,
            obs: play::adversary_obs_size(spec),
            outputs: 3,
            decisions: b * moves * levels,
        },
    ];
    run_parts(exp.eval.batch, exp.train.batch, episode, &teams)
}

/// One row of `metrics.csv`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct RbRow {
    pub run: String,
    pub seed: u64,
    pub n: usize,
    pub f: usize,
    pub faults: String,
    pub epoch: u64,
    pub episodes: u64,
    /// Sample size of the learned attack's rate.
    pub eval_episodes: u64,
    /// Eval episodes (greedy honest protocol, sampled adversary) that
    /// ended with some property broken.
    pub attack_successes: u64,
    pub attack_rate: f64,
    /// The 95% Wilson score interval of `attack_rate`.
    pub attack_rate_low: f64,
    pub attack_rate_high: f64,
    /// The exact verifier's figures for the greedy honest protocol, each
    /// instance's search stopped at its first violation (`search::refute`;
    /// empty: some instance's search passed `rb.max_states` before one).
    pub optimal_attack_rate: Option<f64>,
    pub verified: Option<bool>,
    pub instances: Option<u64>,
    pub broken_instances: Option<u64>,
    /// The properties broken at each broken instance's first violation,
    /// space-separated (`selfplay verify` lists every one).
    pub broken: String,
    /// Under `rb.goal = "rules"`: on a verified row, `yes` when `explain`
    /// reads every action as a threshold rule over the views the search
    /// reached, else `no:` and the actions no rule explains; `not
    /// verified` on the other rows (not checked). Left out of the file
    /// under the default goal, so those runs keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// Mean messages the correct agents sent per eval episode.
    pub honest_messages: f64,
    /// Learner statistics since the previous row.
    pub honest_mean_return: Option<f64>,
    pub honest_entropy: Option<f64>,
    pub honest_value_loss: Option<f64>,
    pub byzantine_mean_return: Option<f64>,
    pub byzantine_entropy: Option<f64>,
    pub byzantine_value_loss: Option<f64>,
}

/// A reliable-broadcast run in progress: the two learning teams and the
/// counterexamples training replays.
pub struct RbRun<'a> {
    job: &'a RbJob,
    honest: Learner,
    adversary: Learner,
    /// Every counterexample the verifier found against the honest team.
    replays: Vec<Replay>,
    scratch: Scratch,
}

/// Reliable broadcast's part of `state.safetensors`.
#[derive(Serialize, Deserialize)]
pub struct Saved {
    replays: Vec<SavedReplay>,
}

/// A counterexample as saved: the instance and moves (to, message index,
/// source 0 correct, 1 faulty, 2 Byzantine).
#[derive(Serialize, Deserialize, Clone)]
struct SavedReplay {
    faulty: u8,
    input: Option<u8>,
    moves: Vec<(u8, u8, u8)>,
}

impl SavedReplay {
    fn of(r: &Replay) -> SavedReplay {
        SavedReplay {
            faulty: r.inst.faulty,
            input: r.inst.input,
            moves: r
                .moves
                .iter()
                .map(|s| (s.to, s.msg.index() as u8, s.from as u8))
                .collect(),
        }
    }

    fn replay(&self) -> Replay {
        let source = [Source::Correct, Source::Faulty, Source::Byzantine];
        Replay {
            inst: Instance {
                faulty: self.faulty,
                input: self.input,
            },
            moves: self
                .moves
                .iter()
                .map(|&(to, m, s)| Step {
                    to,
                    msg: Msg::from_index(m as usize),
                    from: source[s as usize],
                })
                .collect(),
        }
    }
}

/// Runs an experiment from the start.
pub fn run(job: &RbJob, out: &Path, say: &dyn Fn(String)) -> anyhow::Result<Vec<RbRow>> {
    crate::runner::run(&mut RbRun::new(job)?, out, say, true, false)
}

impl<'a> RbRun<'a> {
    pub fn new(job: &'a RbJob) -> anyhow::Result<RbRun<'a>> {
        let (exp, spec) = (&job.exp, &job.spec);
        let mut init = stream(exp.seed, 0);
        Ok(RbRun {
            job,
            honest: Learner::new(
                play::honest_obs_size(spec, job.reading()),
                HONEST_HEADS,
                &exp.honest.learn,
                &mut init,
            )?,
            adversary: Learner::new(
                play::adversary_obs_size(spec),
                1,
                &exp.byzantine.learn,
                &mut init,
            )?,
            replays: vec![],
            scratch: Scratch::default(),
        })
    }
}

impl Game for RbRun<'_> {
    type Row = RbRow;
    type Saved = Saved;

    fn exp(&self) -> &Experiment {
        &self.job.exp
    }

    fn name(&self) -> &str {
        self.job.name()
    }

    fn describe(&self) -> String {
        let spec = &self.job.spec;
        format!(
            "reliable broadcast n = {}, f = {} {}",
            spec.n,
            spec.f,
            spec.faults.name()
        )
    }

    fn trains(&self) -> bool {
        true
    }

    fn learner(&self, side: Side) -> Option<&Learner> {
        Some(match side {
            Side::Honest => &self.honest,
            Side::Byzantine => &self.adversary,
        })
    }

    fn learner_mut(&mut self, side: Side) -> Option<&mut Learner> {
        Some(match side {
            Side::Honest => &mut self.honest,
            Side::Byzantine => &mut self.adversary,
        })
    }

    fn network(&self, side: Side) -> Network {
        let spec = &self.job.spec;
        let (obs_dim, heads) = match side {
            Side::Honest => (
                play::honest_obs_size(spec, self.job.reading()),
                HONEST_HEADS,
            ),
            Side::Byzantine => (play::adversary_obs_size(spec), 1),
        };
        Network {
            obs_dim,
            heads,
            rounds: 0,
        }
    }

    fn epoch(
        &mut self,
        _at: &At,
        rng: &mut ChaCha8Rng,
        upd: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        let (h, b) = train_epoch(
            self.job,
            (&mut self.honest, &mut self.adversary),
            &self.replays,
            rng,
            upd,
            &mut self.scratch,
        )?;
        Ok(Played {
            episodes: self.job.exp.train.batch as u64,
            honest: Some(h),
            byzantine: Some(b),
        })
    }

    /// The greedy honest protocol verified exactly, the learned attack
    /// sampled against it; a counterexample per broken instance searched
    /// is kept for replay.
    fn evaluate(
        &mut self,
        at: &At,
        learned: &Learned,
        _out: &Path,
        _say: &dyn Fn(String),
        timing: &mut Timing,
    ) -> anyhow::Result<RbRow> {
        let (row, replays) = evaluate(
            self.job,
            (&self.honest, &self.adversary),
            at,
            (learned.honest.mean(), learned.byzantine.mean()),
            timing,
        )?;
        self.replays.extend(replays);
        Ok(row)
    }

    fn summary(&self, r: &RbRow) -> String {
        let opt = r
            .optimal_attack_rate
            .map_or("- (search too big)".into(), |o| format!("{o:.4}"));
        format!(
            "optimal attack rate {opt} {}  learned attack {:.4} [{:.4}, {:.4}]  messages {:.2}",
            match (r.verified, r.rules.as_deref()) {
                (Some(true), Some(no)) if no != "yes" => format!("verified, not rules ({no})"),
                (Some(true), _) => "verified".to_string(),
                _ => format!("({})", r.broken),
            },
            r.attack_rate,
            r.attack_rate_low,
            r.attack_rate_high,
            r.honest_messages,
        )
    }

    fn optimum(&self, row: &RbRow) -> Option<f64> {
        row.optimal_attack_rate
    }

    /// Verified, and under `rb.goal = "rules"` read as threshold rules.
    fn verified(&self, row: &RbRow) -> bool {
        let rules = self.job.rb.goal == Goal::Verified || row.rules.as_deref() == Some("yes");
        row.verified == Some(true) && rules
    }

    fn write_rows(&self, rows: &[RbRow]) -> anyhow::Result<Vec<u8>> {
        csv_bytes(rows)
    }

    fn read_rows(&self, path: &Path) -> anyhow::Result<Vec<RbRow>> {
        read(path)
    }

    fn saved(&self) -> Saved {
        Saved {
            replays: self.replays.iter().map(SavedReplay::of).collect(),
        }
    }

    fn restore(&mut self, saved: Saved) {
        self.replays = saved.replays.iter().map(SavedReplay::replay).collect();
    }
}

/// One epoch: a batch of episodes (a share of them replaying the verifier's
/// counterexamples, the rest on instances drawn uniformly), then one update
/// of each team.
fn train_epoch(
    job: &RbJob,
    (honest, adversary): (&mut Learner, &mut Learner),
    kept: &[Replay],
    rng: &mut ChaCha8Rng,
    upd: &mut ChaCha8Rng,
    scratch: &mut Scratch,
) -> anyhow::Result<(Stats, Stats)> {
    let (exp, spec) = (&job.exp, &job.spec);
    let batch_size = exp.train.batch;
    // None while nothing is kept: `starts` draws fresh instances then.
    let replays = (batch_size as f64 * job.rb.replay_fraction).round() as usize;
    let starts = rb_play::starts(
        spec,
        kept,
        replays,
        batch_size,
        job.rb.faulty_sender_share,
        rng,
    );
    let mut batch = Batch::new(*spec, starts);
    let (honest_actor, adversary_actor) = (honest.actor()?, adversary.actor()?);
    let mut hbuf = Buffer::new(play::honest_obs_size(spec, job.reading()), HONEST_HEADS);
    let mut bbuf = Buffer::new(play::adversary_obs_size(spec), 1);
    rb_play::play(
        &mut batch,
        &mut Honest::Net {
            actor: &honest_actor,
            greedy: false,
            record: Some(&mut hbuf),
            reading: job.reading(),
        },
        &mut Adversary {
            actor: &adversary_actor,
            greedy: false,
            record: Some(&mut bbuf),
        },
        rng,
        scratch,
    );
    rb_play::pay(
        &batch,
        job.rb.message_cost as f32,
        job.rb.pay_per_property,
        Some(&mut hbuf),
        Some(&mut bbuf),
    );
    let h = honest.update(&hbuf, upd)?;
    let b = adversary.update(&bbuf, upd)?;
    Ok((h, b))
}

/// An evaluation row: the greedy honest protocol verified exactly, and the
/// learned attack sampled against it; the counterexample, if broken.
fn evaluate(
    job: &RbJob,
    (honest, adversary): (&Learner, &Learner),
    p: &At,
    (h, b): (Option<Stats>, Option<Stats>),
    timing: &mut Timing,
) -> anyhow::Result<(RbRow, Vec<Replay>)> {
    let (exp, spec) = (&job.exp, &job.spec);
    let (honest_actor, adversary_actor) = (honest.actor()?, adversary.actor()?);
    let greedy = Greedy::new(*spec, honest_actor.policy.clone(), job.reading());
    let clock = Instant::now();
    let limits = Limits {
        max_states: job.rb.max_states,
        ..Limits::default()
    };
    let (refuted, replays) = rb_score::refute(spec, &greedy, &limits);
    timing.push(TimingRow {
        run: job.name().into(),
        stage: format!("verify row {} ({} episodes)", p.evals, p.episodes),
        seconds: clock.elapsed().as_secs_f64(),
        episodes_per_second: None,
        episodes: Some(p.episodes),
    });
    // Read off the views the whole search reached, so only where it
    // verified (a refuted search stops at its first violation).
    let rules = (job.rb.goal == Goal::Rules).then(|| match refuted.verified() {
        Some(true) => {
            let missing = super::explain::unruled(spec, job.reading(), &greedy.asked());
            match missing.is_empty() {
                true => "yes".to_string(),
                false => format!("no: {}", missing.join(", ")),
            }
        }
        // Not empty: an empty field reads back as no column (`--resume`).
        _ => "not verified".to_string(),
    });
    let (attacks, messages) = sample_attack(job, &honest_actor, &adversary_actor, p.evals);
    let episodes = exp.eval.episodes;
    let (low, high) = wilson(attacks, episodes);
    let row = RbRow {
        run: job.name().into(),
        seed: exp.seed,
        n: spec.n,
        f: spec.f,
        faults: spec.faults.name().into(),
        epoch: p.epoch,
        episodes: p.episodes,
        eval_episodes: episodes,
        attack_successes: attacks,
        attack_rate: attacks as f64 / episodes as f64,
        attack_rate_low: low,
        attack_rate_high: high,
        optimal_attack_rate: refuted.optimal_attack_rate(),
        verified: refuted.verified(),
        instances: Some(refuted.per_instance.len() as u64),
        broken_instances: refuted
            .optimal_attack_rate()
            .map(|_| refuted.broken_instances() as u64),
        broken: refuted.broken().join(" "),
        rules,
        honest_messages: messages as f64 / episodes as f64,
        honest_mean_return: h.map(|s| s.mean_return),
        honest_entropy: h.map(|s| s.entropy),
        honest_value_loss: h.map(|s| s.value_loss),
        byzantine_mean_return: b.map(|s| s.mean_return),
        byzantine_entropy: b.map(|s| s.entropy),
        byzantine_value_loss: b.map(|s| s.value_loss),
    };
    Ok((row, replays))
}

/// `eval.episodes` episodes of the greedy honest protocol against the
/// adversary as it plays (sampled), on instances drawn uniformly from the
/// row's own stream: (episodes broken, messages the correct agents sent).
fn sample_attack(job: &RbJob, honest: &Actor, adversary: &Actor, row: u64) -> (u64, u64) {
    let (exp, spec) = (&job.exp, &job.spec);
    let mut rng = stream(exp.seed, 1000 + row);
    let all = envs::broadcast::instances(spec);
    let mut scratch = Scratch::default();
    let (mut done, mut attacks, mut messages) = (0u64, 0u64, 0u64);
    while done < exp.eval.episodes {
        let len = (exp.eval.episodes - done).min(exp.eval.batch as u64) as usize;
        let starts = (0..len)
            .map(|_| (all[rng.random_range(0..all.len())], vec![]))
            .collect();
        let mut batch = Batch::new(*spec, starts);
        rb_play::play(
            &mut batch,
            &mut Honest::Net {
                actor: honest,
                greedy: true,
                record: None,
                reading: job.reading(),
            },
            &mut Adversary {
                actor: adversary,
                greedy: false,
                record: None,
            },
            &mut rng,
            &mut scratch,
        );
        for (e, ep) in batch.episodes.iter().enumerate() {
            attacks += rb_play::attacked(&batch, e) as u64;
            messages += ep
                .inst
                .correct(spec)
                .map(|a| ep.state[a].sent.count_ones() as u64)
                .sum::<u64>();
        }
        done += len as u64;
    }
    (attacks, messages)
}

/// Reads `metrics.csv` back (for `--resume`).
pub fn read(path: &Path) -> anyhow::Result<Vec<RbRow>> {
    let shown = path.display();
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {shown}"))?;
    r.deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("{shown}: not a reliable-broadcast metrics file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(rb: &str) -> Result<RbJob, String> {
        let text = format!(
            "game = \"reliable_broadcast\"\n[env]\nn = 4\nf = 1\n[honest]\nkind = \"learned\"\n\
             [byzantine]\nkind = \"learned\"\n[train]\nepisodes = 1024\n[rb]\n{rb}\n"
        );
        let exp = crate::config::parse(&text, "test.toml").map_err(|e| e.to_string())?;
        RbJob::new(exp).map_err(|e| e.to_string())
    }

    /// A verified row reaches the goal under the default; under
    /// `rb.goal = "rules"` only where `explain` read it as rules.
    #[test]
    fn the_rules_goal_asks_a_verified_row_for_rules() {
        let row = |verified, rules: Option<&str>| RbRow {
            verified: Some(verified),
            optimal_attack_rate: Some(if verified { 0.0 } else { 0.5 }),
            rules: rules.map(str::to_string),
            ..RbRow::default()
        };
        let default = job("view = \"quorums\"").unwrap();
        let run = RbRun::new(&default).unwrap();
        assert!(run.verified(&row(true, None)));
        assert!(!run.verified(&row(false, None)));
        let rules = job("view = \"quorums\"\ngoal = \"rules\"").unwrap();
        let run = RbRun::new(&rules).unwrap();
        assert!(run.verified(&row(true, Some("yes"))));
        assert!(!run.verified(&row(true, Some("no: deliver v"))));
        assert!(!run.verified(&row(false, Some("not verified"))));
        assert!(run
            .summary(&row(true, Some("no: deliver v")))
            .contains("verified, not rules (no: deliver v)"));
    }

    /// Rules are read off the guards of a view every n shares: raw counts
    /// are refused by the key.
    #[test]
    fn the_rules_goal_needs_a_threshold_view() {
        let e = job("goal = \"rules\"").err().expect("refused");
        assert!(e.contains("rb.goal") && e.contains("rb.view"), "{e}");
        assert!(job("view = \"thresholds\"\ngoal = \"rules\"").is_ok());
        let e = job("view = \"quorums\"\ngoal = \"rule\"")
            .err()
            .expect("refused");
        assert!(e.contains("goal") && e.contains("rules"), "{e}");
    }
}
