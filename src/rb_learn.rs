//! Learning reliable broadcast from zero (`game = "reliable_broadcast"`,
//! issue 16): an honest team and an adversary (the Byzantine agents and the
//! scheduler together), both networks from random weights, play batches of
//! episodes (`rb_play`) and learn from zero-sum pay. Every evaluation row
//! verifies the honest team's greedy protocol exactly (`rb_score`), samples
//! the learned attack against it, keeps the best protocol, and adds the
//! verifier's counterexample to the episodes training replays.
//! See docs/reliable_broadcast_learning.md.

use crate::config::{Experiment, Kind, Schedule};
use crate::export::{csv_bytes, write_atomic, TimingRow};
use crate::rb_play::{self, Adversary, Honest, Scratch};
use crate::rb_score::{self, Greedy, Replay};
use crate::run::stream;
use crate::slush_score::wilson;
use agents::checkpoint;
use agents::learner::Actor;
use agents::{Buffer, Learner, Stats, StatsSum};
use anyhow::{bail, Context};
use envs::rb::game::{Msg, Source, Step};
use envs::rb::play::{self, Batch, HONEST_HEADS};
use envs::rb::{Instance, Limits, RbFaults, RbSpec};
use envs::{ConfigError, Faults, Switch};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// The `[rb]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RbConfig {
    /// What an honest agent pays per message it sends (beside -1 when a
    /// property breaks): among protocols that hold, the cheaper wins.
    pub message_cost: f64,
    /// The share of each training batch that replays the verifier's
    /// counterexamples (once there are some).
    pub replay_fraction: f64,
    /// The most states the exact search may visit per instance.
    pub max_states: u64,
    /// The honest network reads views up to swapping the values 0 and 1
    /// (`envs::rb::play::orient`): it learns protocols that treat both
    /// values alike, and acts on no view that says the same of both.
    pub value_symmetric: bool,
    /// Pay 1 per broken property (validity, agreement, ...) rather than 1
    /// per episode with some property broken (`rb_play::pay`). Written out
    /// only when set, like `faulty_sender_share`, so that runs without them
    /// keep their bytes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pay_per_property: bool,
    /// The share of each batch's fresh (not replayed) episodes whose
    /// instance is drawn among those with a faulty sender (`rb_play::starts`).
    #[serde(skip_serializing_if = "is_zero")]
    pub faulty_sender_share: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Default for RbConfig {
    fn default() -> Self {
        RbConfig {
            message_cost: 0.01,
            replay_fraction: 0.25,
            max_states: Limits::default().max_states,
            value_symmetric: true,
            pay_per_property: false,
            faulty_sender_share: 0.0,
        }
    }
}

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
        let spec = RbSpec::new(env.n, env.f, faults)
            .map_err(|(key, why)| refuse(&format!("env.{key}"), env.n.max(env.f), why))?;
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
        if exp.train.episodes == 0 || exp.train.batch == 0 || exp.train.eval_every == 0 {
            return Err(refuse(
                "train.episodes",
                exp.train.episodes,
                "a learning run needs train.episodes, train.batch and train.eval_every above 0",
            ));
        }
        if exp.eval.episodes == 0 || exp.eval.batch == 0 {
            return Err(refuse(
                "eval.episodes",
                exp.eval.episodes,
                "the learned attack is sampled: eval.episodes and eval.batch above 0",
            ));
        }
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
        Ok(RbJob { exp, spec, rb })
    }

    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("reliable_broadcast")
    }
}

/// One row of `metrics.csv`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
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
    /// The exact verifier's figures for the greedy honest protocol (empty:
    /// the search passed `rb.max_states`).
    pub optimal_attack_rate: Option<f64>,
    pub verified: Option<bool>,
    pub instances: Option<u64>,
    pub broken_instances: Option<u64>,
    /// The properties some adversary breaks, space-separated.
    pub broken: String,
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

/// The two learning teams.
struct Teams {
    honest: Learner,
    adversary: Learner,
}

/// Where training stands: what a resumed run reads back.
#[derive(Serialize, Deserialize, Default)]
struct Progress {
    rows: usize,
    episodes: u64,
    epoch: u64,
    evals: u64,
    /// Positions in the play and update streams (u128 as text).
    play: String,
    update: String,
    honest_steps: u64,
    byzantine_steps: u64,
    replays: Vec<SavedReplay>,
    best: Option<f64>,
    /// The experiment as run: a resume must be of the same one.
    config: String,
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

pub const STATE: &str = "state.safetensors";

/// Whether `out` holds a saved state of this experiment; an error if it
/// holds one of another experiment.
pub fn can_resume(job: &RbJob, out: &Path) -> anyhow::Result<bool> {
    Ok(saved(job, out)?.is_some())
}

fn saved(job: &RbJob, out: &Path) -> anyhow::Result<Option<(Progress, checkpoint::Tensors)>> {
    let path = out.join(STATE);
    if !path.exists() {
        return Ok(None);
    }
    let (json, tensors) = checkpoint::read_tensors(&path).map_err(anyhow::Error::msg)?;
    let p: Progress = serde_json::from_str(&json)
        .with_context(|| format!("{}: not a saved reliable-broadcast run", path.display()))?;
    if p.config != toml::to_string(&job.exp)? {
        bail!(
            "cannot resume {}: it was made by a different config (another file, seed or --set)",
            out.display()
        );
    }
    Ok(Some((p, tensors)))
}

/// Runs an experiment from the start.
pub fn run(job: &RbJob, out: &Path, say: &dyn Fn(String)) -> anyhow::Result<Vec<RbRow>> {
    run_with(job, out, say, false)
}

/// Runs an experiment; with `resume`, goes on from the state saved in
/// `out` at its last row (the same bytes as a run never stopped).
pub fn run_with(
    job: &RbJob,
    out: &Path,
    say: &dyn Fn(String),
    resume: bool,
) -> anyhow::Result<Vec<RbRow>> {
    let (exp, spec) = (&job.exp, &job.spec);
    let started = Instant::now();
    let resumed = if resume { saved(job, out)? } else { None };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join("config.toml"), toml::to_string(exp)?.as_bytes())?;
    say(format!(
        "run {} | reliable broadcast n = {}, f = {} {} | seed {}",
        job.name(),
        spec.n,
        spec.f,
        spec.faults.name(),
        exp.seed
    ));
    let mut init = stream(exp.seed, 0);
    let mut rng = stream(exp.seed, 1);
    let mut upd = stream(exp.seed, 2);
    let mut teams = Teams {
        honest: Learner::new(
            play::honest_obs_size(spec),
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
    };
    let mut p = Progress {
        config: toml::to_string(exp)?,
        ..Progress::default()
    };
    let mut rows: Vec<RbRow> = vec![];
    let mut timing: Vec<TimingRow> = vec![];
    // A resumed run already has its row at this point.
    let mut evaluated = false;
    if let Some((saved, tensors)) = resumed {
        for (l, team, steps) in [
            (&mut teams.honest, "honest", saved.honest_steps),
            (&mut teams.adversary, "byzantine", saved.byzantine_steps),
        ] {
            checkpoint::restore_learner(l, team, &tensors, steps).map_err(anyhow::Error::msg)?;
        }
        rows = read(&out.join("metrics.csv"))?;
        if rows.len() < saved.rows {
            bail!(
                "cannot resume {}: metrics.csv has fewer rows than the saved state",
                out.display()
            );
        }
        rows.truncate(saved.rows);
        rng.set_word_pos(saved.play.parse()?);
        upd.set_word_pos(saved.update.parse()?);
        p = saved;
        evaluated = true;
        say(format!(
            "resumed at epoch {}, {} episodes",
            p.epoch, p.episodes
        ));
    }
    let mut stats = (StatsSum::default(), StatsSum::default());
    let mut next_eval = p.episodes;
    let mut scratch = Scratch::default();
    loop {
        if p.episodes >= next_eval || p.episodes >= exp.train.episodes {
            while next_eval <= p.episodes {
                next_eval += exp.train.eval_every;
            }
            if !std::mem::take(&mut evaluated) {
                let (row, replay) = evaluate(job, &teams, &p, &stats, &mut timing, started)?;
                stats = (StatsSum::default(), StatsSum::default());
                report(say, &row);
                let verified = row.verified == Some(true);
                keep_best(job, out, &teams, &mut p, &row, say)?;
                p.replays.extend(replay.as_ref().map(SavedReplay::of));
                rows.push(row);
                p.evals += 1;
                p.rows = rows.len();
                p.play = rng.get_word_pos().to_string();
                p.update = upd.get_word_pos().to_string();
                save(job, out, &rows, &teams, &mut p)?;
                // Wall clock so far, for a run stopped before its end.
                write_atomic(&out.join("timing.csv"), &csv_bytes(&timing)?)?;
                if verified && exp.train.stop_when_verified {
                    say("verified: training stops (train.stop_when_verified)".into());
                    break;
                }
            }
        }
        if p.episodes >= exp.train.episodes {
            break;
        }
        let (h, b) = train_epoch(job, &mut teams, &p, &mut rng, &mut upd, &mut scratch)?;
        stats.0.add(&h);
        stats.1.add(&b);
        p.episodes += exp.train.batch as u64;
        p.epoch += 1;
    }
    write_atomic(&out.join("metrics.csv"), &csv_bytes(&rows)?)?;
    timing.push(TimingRow {
        run: job.name().into(),
        stage: "total".into(),
        seconds: started.elapsed().as_secs_f64(),
        episodes_per_second: None,
        episodes: Some(p.episodes),
    });
    write_atomic(&out.join("timing.csv"), &csv_bytes(&timing)?)?;
    if let Err(e) = crate::plot::plot(out) {
        say(format!("no curves.svg: {e:#}"));
    }
    say(format!("wrote {}", out.join("metrics.csv").display()));
    Ok(rows)
}

/// One epoch: a batch of episodes (a share of them replaying the verifier's
/// counterexamples, the rest on instances drawn uniformly), then one update
/// of each team.
fn train_epoch(
    job: &RbJob,
    teams: &mut Teams,
    p: &Progress,
    rng: &mut ChaCha8Rng,
    upd: &mut ChaCha8Rng,
    scratch: &mut Scratch,
) -> anyhow::Result<(Stats, Stats)> {
    let (exp, spec) = (&job.exp, &job.spec);
    let batch_size = exp.train.batch;
    let replays = match p.replays.is_empty() {
        true => 0,
        false => (batch_size as f64 * job.rb.replay_fraction).round() as usize,
    };
    let kept: Vec<Replay> = p.replays.iter().map(SavedReplay::replay).collect();
    let starts = rb_play::starts(
        spec,
        &kept,
        replays,
        batch_size,
        job.rb.faulty_sender_share,
        rng,
    );
    let mut batch = Batch::new(*spec, starts);
    let (honest_actor, adversary_actor) = (teams.honest.actor()?, teams.adversary.actor()?);
    let mut hbuf = Buffer::new(play::honest_obs_size(spec), HONEST_HEADS);
    let mut bbuf = Buffer::new(play::adversary_obs_size(spec), 1);
    rb_play::play(
        &mut batch,
        &mut Honest::Net {
            actor: &honest_actor,
            greedy: false,
            record: Some(&mut hbuf),
            symmetric: job.rb.value_symmetric,
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
    let h = teams.honest.update(&hbuf, upd)?;
    let b = teams.adversary.update(&bbuf, upd)?;
    if !h.policy_loss.is_finite() || !b.policy_loss.is_finite() {
        bail!("training diverged at epoch {} (a non-finite loss)", p.epoch);
    }
    Ok((h, b))
}

/// An evaluation row: the greedy honest protocol verified exactly, and the
/// learned attack sampled against it; the counterexample, if broken.
fn evaluate(
    job: &RbJob,
    teams: &Teams,
    p: &Progress,
    stats: &(StatsSum, StatsSum),
    timing: &mut Vec<TimingRow>,
    started: Instant,
) -> anyhow::Result<(RbRow, Option<Replay>)> {
    let (exp, spec) = (&job.exp, &job.spec);
    let (honest_actor, adversary_actor) = (teams.honest.actor()?, teams.adversary.actor()?);
    let greedy = Greedy::new(*spec, honest_actor.policy.clone(), job.rb.value_symmetric);
    let clock = Instant::now();
    let limits = Limits {
        max_states: job.rb.max_states,
    };
    let verdict = rb_score::verify(spec, &greedy, &limits);
    timing.push(TimingRow {
        run: job.name().into(),
        stage: format!("verify row {} ({} episodes)", p.evals, p.episodes),
        seconds: clock.elapsed().as_secs_f64(),
        episodes_per_second: None,
        episodes: Some(p.episodes),
    });
    let (report, replay) = match verdict {
        Ok((r, replay)) => (Some(r), replay),
        Err(_) => (None, None),
    };
    if report.as_ref().is_some_and(|r| r.verified) {
        timing.push(TimingRow {
            run: job.name().into(),
            stage: "verified".into(),
            seconds: started.elapsed().as_secs_f64(),
            episodes_per_second: None,
            episodes: Some(p.episodes),
        });
    }
    let (attacks, messages) = sample_attack(job, &honest_actor, &adversary_actor, p.evals);
    let episodes = exp.eval.episodes;
    let (low, high) = wilson(attacks, episodes);
    let (h, b) = (stats.0.mean(), stats.1.mean());
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
        optimal_attack_rate: report.as_ref().map(|r| r.optimal_attack_rate),
        verified: report.as_ref().map(|r| r.verified),
        instances: report.as_ref().map(|r| r.instances as u64),
        broken_instances: report.as_ref().map(|r| r.broken_instances as u64),
        broken: report
            .as_ref()
            .map_or(String::new(), |r| r.broken.join(" ")),
        honest_messages: messages as f64 / episodes as f64,
        honest_mean_return: h.map(|s| s.mean_return),
        honest_entropy: h.map(|s| s.entropy),
        honest_value_loss: h.map(|s| s.value_loss),
        byzantine_mean_return: b.map(|s| s.mean_return),
        byzantine_entropy: b.map(|s| s.entropy),
        byzantine_value_loss: b.map(|s| s.value_loss),
    };
    Ok((row, replay))
}

/// `eval.episodes` episodes of the greedy honest protocol against the
/// adversary as it plays (sampled), on instances drawn uniformly from the
/// row's own stream: (episodes broken, messages the correct agents sent).
fn sample_attack(job: &RbJob, honest: &Actor, adversary: &Actor, row: u64) -> (u64, u64) {
    let (exp, spec) = (&job.exp, &job.spec);
    let mut rng = stream(exp.seed, 1000 + row);
    let all = envs::rb::instances(spec);
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
                symmetric: job.rb.value_symmetric,
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

/// Keeps the honest network of the row with the lowest optimal attack rate
/// (ties to the earlier row) in `honest_best.safetensors`.
fn keep_best(
    job: &RbJob,
    out: &Path,
    teams: &Teams,
    p: &mut Progress,
    row: &RbRow,
    say: &dyn Fn(String),
) -> anyhow::Result<()> {
    let Some(o) = row.optimal_attack_rate else {
        return Ok(());
    };
    if p.best.is_some_and(|b| o >= b) {
        return Ok(());
    }
    p.best = Some(o);
    let meta = meta(job, "honest", p.episodes)?;
    checkpoint::save(&out.join("honest_best.safetensors"), &teams.honest, &meta)
        .map_err(anyhow::Error::msg)?;
    if row.verified == Some(true) {
        say(format!(
            "verified at {} episodes: kept in honest_best.safetensors",
            p.episodes
        ));
    }
    Ok(())
}

fn meta(job: &RbJob, team: &str, episodes: u64) -> anyhow::Result<checkpoint::Meta> {
    let (obs_dim, heads, hidden) = match team {
        "honest" => (
            play::honest_obs_size(&job.spec),
            HONEST_HEADS,
            &job.exp.honest.learn.hidden,
        ),
        _ => (
            play::adversary_obs_size(&job.spec),
            1,
            &job.exp.byzantine.learn.hidden,
        ),
    };
    Ok(checkpoint::Meta {
        team: team.into(),
        obs_dim,
        heads,
        hidden: hidden.clone(),
        rounds: 0,
        episodes,
        config: toml::to_string(&job.exp)?,
    })
}

/// Writes the rows, both networks, and last the state a resume reads.
fn save(
    job: &RbJob,
    out: &Path,
    rows: &[RbRow],
    teams: &Teams,
    p: &mut Progress,
) -> anyhow::Result<()> {
    write_atomic(&out.join("metrics.csv"), &csv_bytes(rows)?)?;
    for (l, team) in [(&teams.honest, "honest"), (&teams.adversary, "byzantine")] {
        checkpoint::save(
            &out.join(format!("{team}.safetensors")),
            l,
            &meta(job, team, p.episodes)?,
        )
        .map_err(anyhow::Error::msg)?;
    }
    p.honest_steps = teams.honest.opt.t;
    p.byzantine_steps = teams.adversary.opt.t;
    let mut tensors = checkpoint::learner_state(&teams.honest, "honest");
    tensors.extend(checkpoint::learner_state(&teams.adversary, "byzantine"));
    // Written last: a killed run resumes from its last complete row.
    checkpoint::write_tensors(&out.join(STATE), &tensors, &serde_json::to_string(p)?)
        .map_err(anyhow::Error::msg)
}

/// Reads `metrics.csv` back (for `--resume`).
pub fn read(path: &Path) -> anyhow::Result<Vec<RbRow>> {
    let shown = path.display();
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {shown}"))?;
    r.deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("{shown}: not a reliable-broadcast metrics file"))
}

fn report(say: &dyn Fn(String), r: &RbRow) {
    let opt = r
        .optimal_attack_rate
        .map_or("- (search too big)".into(), |o| format!("{o:.4}"));
    say(format!(
        "episodes {:>8}  optimal attack rate {opt} {}  learned attack {:.4} [{:.4}, {:.4}]  \
         messages {:.2}",
        r.episodes,
        match r.verified {
            Some(true) => "verified".to_string(),
            _ => format!("({})", r.broken),
        },
        r.attack_rate,
        r.attack_rate_low,
        r.attack_rate_high,
        r.honest_messages,
    ));
}
