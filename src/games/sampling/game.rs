//! Running the sampling game (`game = "slush"`). With scripted answerers:
//! scripted Slush and Snowflake side by side, then a learned honest team
//! trained in the same rounds. With a learned (or frozen) Byzantine team:
//! that team against the honest one (scripted Slush or Snowflake, learned,
//! or frozen), both learning when both are learned. Every row is sampled,
//! with its sample size, and carries the attack's rate with its Wilson
//! interval next to the exact optimal adversary's rate against the honest
//! protocol that played (`score`).

use crate::config::{Experiment, Kind};
use crate::export::{MetricsRow, RowKey};
use crate::games::consensus::teams::Tally;
use crate::games::sampling::play::{pay_byzantine, play, Answerers, Honest};
use crate::games::sampling::score::{self as score, HonestRule, Optimum, SlushRow};
use crate::games::Entry as _;
use crate::memory::{run_parts, Part, Team};
use crate::runner::{At, Game, Learned, Network, Played, Side};
use crate::streams::stream;
use crate::timing::Timing;
use agents::checkpoint::Loaded;
use agents::learner::Actor;
use agents::{Buffer, Learner, Stats};
use envs::consensus::ConfigError;
use envs::consensus::Switch;
use envs::sampling::{self as slush, Slush, SlushEnv, SlushRule, SlushSpec, Snowflake};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The scripted honest protocols of the sampling game, evaluated first in a
/// run with scripted answerers.
pub const PROTOCOLS: &[&str] = &["slush", "snowflake"];

/// Every scripted honest protocol an experiment can name: [`PROTOCOLS`] and
/// the trivial baselines (`slush::TRIVIAL`).
fn known_protocol(name: &str) -> bool {
    PROTOCOLS.contains(&name) || slush::Trivial::parse(name).is_some()
}

/// A sampling-game experiment, checked, with its checkpoints loaded.
pub struct SlushJob {
    pub exp: Experiment,
    pub spec: SlushSpec,
    /// `honest.checkpoint`: the frozen network, or a learned team's start.
    honest_ckpt: Option<Box<Loaded>>,
    /// `byzantine.checkpoint`, likewise.
    byzantine_ckpt: Option<Box<Loaded>>,
}

impl SlushJob {
    pub fn new(exp: Experiment) -> Result<SlushJob, ConfigError> {
        crate::config::check_values(&exp)?;
        let spec = SlushSpec::new(&exp.env, &exp.slush)?;
        let env = &exp.env;
        for (key, value, default) in [
            ("env.comm", env.comm.name(), "agreement"),
            ("env.synchrony", env.synchrony.name(), "synchronous"),
            ("env.faults", env.faults.name(), "byzantine"),
        ] {
            if value != default {
                return Err(ConfigError::new(
                    key,
                    format!("\"{value}\""),
                    format!(
                        "the sampling game is synchronous agreement with Byzantine answerers; \
                         only \"{default}\" applies"
                    ),
                ));
            }
        }
        if exp.rewards.round_penalty_at != envs::consensus::RoundPenaltyAt::End {
            return Err(ConfigError::new(
                "rewards.round_penalty_at",
                "\"every_step\"",
                "the sampling game pays its rewards at the end: only \"end\" applies",
            ));
        }
        let byz = exp.byzantine.kind;
        let adv = &exp.byzantine.adversary;
        if byz == Kind::Scripted && spec.f > 0 && !slush::ADVERSARIES.contains(&adv.as_str()) {
            return Err(ConfigError::new(
                "byzantine.adversary",
                format!("\"{adv}\""),
                format!(
                    "the sampling game's adversaries are {}",
                    slush::ADVERSARIES.join(", ")
                ),
            ));
        }
        if byz != Kind::Scripted && spec.f == 0 {
            return Err(ConfigError::new(
                "byzantine.kind",
                format!("\"{}\"", byz.name()),
                "there are no Byzantine agents (env.f = 0)",
            ));
        }
        let proto = &exp.honest.protocol;
        if exp.honest.kind == Kind::Scripted && byz != Kind::Scripted && !known_protocol(proto) {
            return Err(ConfigError::new(
                "honest.protocol",
                format!("\"{proto}\""),
                format!(
                    "the sampling game's scripted protocols are {}",
                    envs::sampling::exact::Rule::NAMES.join(", ")
                ),
            ));
        }
        if exp.train.schedule != crate::config::Schedule::Simultaneous {
            return Err(ConfigError::new(
                "train.schedule",
                "\"alternating\"",
                "the sampling game updates every learning team after every epoch: \
                 only \"simultaneous\" applies",
            ));
        }
        let learns = exp.honest.kind == Kind::Learned || byz == Kind::Learned;
        if learns {
            crate::config::check_training(&exp)?;
        }
        let honest_ckpt = checkpoint_for(
            "honest.checkpoint",
            exp.honest.kind,
            exp.honest.checkpoint.as_deref(),
            "honest",
            spec.obs_size(),
        )?;
        let byzantine_ckpt = checkpoint_for(
            "byzantine.checkpoint",
            byz,
            exp.byzantine.checkpoint.as_deref(),
            "byzantine",
            spec.byz_obs_size(),
        )?;
        crate::memory::check(&memory_estimate(&exp, &spec))?;
        Ok(SlushJob {
            exp,
            spec,
            honest_ckpt,
            byzantine_ckpt,
        })
    }

    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("slush")
    }

    /// Whether a team learns: a training run, which keeps a state to resume.
    pub fn trains(&self) -> bool {
        self.exp.honest.kind == Kind::Learned || self.exp.byzantine.kind == Kind::Learned
    }
}

/// A rough upper estimate of a run's memory, per key responsible: the
/// batches of episodes, every decision a learning team records (an honest
/// node's each round; an answer to each query for the Byzantine team), and
/// the networks with their gradients and Adam moments.
pub fn memory_estimate(exp: &Experiment, spec: &SlushSpec) -> Vec<Part> {
    let episode = (64 + spec.n * 32) as f64;
    let (b, honest, rounds) = (
        exp.train.batch as f64,
        (spec.n - spec.f) as f64,
        spec.rounds as f64,
    );
    let mut teams = vec![];
    if exp.honest.kind == Kind::Learned {
        teams.push(Team {
            side: "honest",
            learn: &exp.honest.learn,
            obs: spec.obs_size(),
            outputs: 3,
            decisions: b * honest * rounds,
        });
    }
    if exp.byzantine.kind == Kind::Learned {
        teams.push(Team {
            side: "byzantine",
            learn: &exp.byzantine.learn,
            obs: spec.byz_obs_size(),
            outputs: 3,
            decisions: b * honest * rounds * spec.k as f64,
        });
    }
    run_parts(exp.eval.batch, exp.train.batch, episode, &teams)
}

/// A team's checkpoint, checked against the sampling game: needed for a
/// frozen team, a starting point for a learned one, unused by a scripted one.
fn checkpoint_for(
    key: &str,
    kind: Kind,
    path: Option<&Path>,
    team: &str,
    obs_dim: usize,
) -> Result<Option<Box<Loaded>>, ConfigError> {
    let path = match (kind, path) {
        (Kind::Scripted, _) | (Kind::Learned, None) => return Ok(None),
        (Kind::Frozen, None) => {
            return Err(ConfigError::new(
                key,
                "(none)",
                format!("a frozen {team} team needs a checkpoint"),
            ))
        }
        (_, Some(p)) => p,
    };
    let shown = format!("\"{}\"", path.display());
    let c = crate::config::load_checkpoint(path).map_err(|e| ConfigError::new(key, &shown, e))?;
    let why = if let Some(other) = crate::config::other_game(&c, super::ENTRY.name()) {
        Some(other)
    } else if c.meta.team != team {
        Some(format!("is a {} checkpoint, not {team}", c.meta.team))
    } else if c.meta.obs_dim != obs_dim {
        Some(format!(
            "takes observations of size {}, this game has {obs_dim}: n, k, beta and rounds \
             must match its training",
            c.meta.obs_dim
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(ConfigError::new(key, &shown, why)),
        None => Ok(Some(Box::new(c))),
    }
}

/// A saved network as an actor.
fn frozen_actor(c: &Loaded) -> anyhow::Result<Actor> {
    Ok(Actor {
        policy: c.policy().map_err(anyhow::Error::msg)?,
        critic: c.critic().map_err(anyhow::Error::msg)?,
        heads: 1,
    })
}

fn tally(env: &SlushEnv) -> Tally {
    let mut t = Tally::default();
    for e in 0..env.len() {
        t.add_episode(env.spec.n, env.spec.rounds, env.episode(e), &env.outcome(e));
    }
    t
}

/// Sampled figures of one evaluation.
struct Sampled {
    tally: Tally,
    /// Episodes where every honest agent decided the initial majority.
    majority: u64,
    /// Episodes where the Byzantine team reached `slush.attack_goal`.
    attacks: u64,
}

/// `eval.episodes` sampled episodes of `honest` against `byz`.
fn evaluate(
    job: &SlushJob,
    honest: &mut Honest,
    byz: &mut Answerers,
    rng: &mut ChaCha8Rng,
) -> Sampled {
    let (episodes, batch) = (job.exp.eval.episodes, job.exp.eval.batch);
    let mut s = Sampled {
        tally: Tally::default(),
        majority: 0,
        attacks: 0,
    };
    while s.tally.episodes < episodes {
        let len = batch.min((episodes - s.tally.episodes) as usize);
        let mut env = SlushEnv::new(job.spec.clone(), len);
        env.reset(rng);
        play(&mut env, honest, byz, rng);
        for e in 0..len {
            s.majority += env.decided_majority(e) as u64;
            s.attacks += env.attack_succeeded(e, job.spec.attack_goal) as u64;
        }
        s.tally.merge(&tally(&env));
    }
    s
}

/// Who played a row, and when.
struct RowAt<'a> {
    honest: &'a str,
    byzantine: &'a str,
    epoch: u64,
    episodes: u64,
}

fn row(
    job: &SlushJob,
    at: RowAt,
    s: &Sampled,
    stats: (Option<Stats>, Option<Stats>),
    optimum: Option<Optimum>,
) -> SlushRow {
    let sp = &job.spec;
    let key = RowKey {
        run: job.name().into(),
        seed: job.exp.seed,
        n: sp.n,
        f: sp.f,
        rounds: sp.rounds,
        comm: "slush".into(),
        synchrony: "synchronous".into(),
        identity: "anonymous".into(),
        faults: "byzantine".into(),
        honest: at.honest.into(),
        byzantine: at.byzantine.into(),
        epoch: at.epoch,
        episodes: at.episodes,
    };
    let t = &s.tally;
    let (attack, optimal) = score::attack_cols(sp.attack_goal, s.attacks, t.episodes, optimum);
    SlushRow {
        metrics: MetricsRow {
            majority_rate: Some(t.rate(s.majority)),
            optimal_attack_rate: optimal,
            ..MetricsRow::new(key, t, stats.0, stats.1)
        },
        attack,
    }
}

/// The Byzantine team as the rows name it.
fn byzantine_name(job: &SlushJob) -> String {
    match job.exp.byzantine.kind {
        _ if job.spec.f == 0 => "none".into(),
        Kind::Scripted => job.exp.byzantine.adversary.clone(),
        k => k.name().into(),
    }
}

/// A scripted honest rule by name.
fn rule(name: &str) -> Box<dyn SlushRule> {
    match (name, slush::Trivial::parse(name)) {
        ("snowflake", _) => Box::new(Snowflake::default()),
        (_, Some(t)) => Box::new(t),
        _ => Box::new(Slush),
    }
}

fn rule_of(name: &str) -> HonestRule<'static> {
    match (name, slush::Trivial::parse(name)) {
        ("snowflake", _) => HonestRule::Snowflake,
        (_, Some(t)) => HonestRule::Trivial(t),
        _ => HonestRule::Slush,
    }
}

/// Runs a sampling-game experiment from the start.
pub fn run(job: &SlushJob, out: &Path, say: &dyn Fn(String)) -> anyhow::Result<Vec<MetricsRow>> {
    let rows = crate::runner::run(&mut SlushRun::new(job)?, out, say, true, false)?;
    Ok(rows.into_iter().map(|r| r.metrics).collect())
}

/// A sampling-game run in progress: the teams, frozen or learning, and the
/// batch they train on.
pub struct SlushRun<'a> {
    job: &'a SlushJob,
    honest_learner: Option<Learner>,
    byz_learner: Option<Learner>,
    honest_frozen: Option<Actor>,
    byz_frozen: Option<Actor>,
    /// The optimum against a fixed honest protocol cannot change: once.
    fixed_optimum: Option<Option<Optimum>>,
    env: SlushEnv,
}

/// The sampling game keeps nothing of its own in `state.safetensors`.
#[derive(Serialize, Deserialize)]
pub struct Saved {}

impl<'a> SlushRun<'a> {
    pub fn new(job: &'a SlushJob) -> anyhow::Result<SlushRun<'a>> {
        let exp = &job.exp;
        let (d, bd) = (job.spec.obs_size(), job.spec.byz_obs_size());
        let mut init = stream(exp.seed, 0);
        let mut honest_learner = match exp.honest.kind == Kind::Learned {
            true => Some(Learner::new(d, 1, &exp.honest.learn, &mut init)?),
            false => None,
        };
        let mut byz_learner = match exp.byzantine.kind == Kind::Learned {
            true => Some(Learner::new(bd, 1, &exp.byzantine.learn, &mut init)?),
            false => None,
        };
        // A learned team starts from its checkpoint, when it names one.
        for (l, c) in [
            (&mut honest_learner, &job.honest_ckpt),
            (&mut byz_learner, &job.byzantine_ckpt),
        ] {
            if let (Some(l), Some(c)) = (l.as_mut(), c) {
                c.into_learner(l).map_err(anyhow::Error::msg)?;
            }
        }
        let honest_frozen = match (&exp.honest.kind, &job.honest_ckpt) {
            (Kind::Frozen, Some(c)) => Some(frozen_actor(c)?),
            _ => None,
        };
        let byz_frozen = match (&exp.byzantine.kind, &job.byzantine_ckpt) {
            (Kind::Frozen, Some(c)) => Some(frozen_actor(c)?),
            _ => None,
        };
        let max_work = exp.eval.max_work;
        let fixed_optimum = match exp.honest.kind {
            Kind::Scripted => Some(score::optimum(
                &job.spec,
                rule_of(&exp.honest.protocol),
                max_work,
            )),
            Kind::Frozen => honest_frozen
                .as_ref()
                .map(|a| score::optimum(&job.spec, HonestRule::Network(&a.policy), max_work)),
            Kind::Learned => None,
        };
        // Training draws every input split (unless the experiment fixes
        // `slush.train_split`), so that validity binds: on a fixed split a
        // constant colour would "agree" every time.
        let mut train_spec = job.spec.clone();
        if !exp.slush.train_split {
            train_spec.ones = None;
        }
        Ok(SlushRun {
            job,
            honest_learner,
            byz_learner,
            honest_frozen,
            byz_frozen,
            fixed_optimum,
            env: SlushEnv::new(train_spec, exp.train.batch),
        })
    }

    fn honest_name(&self) -> &str {
        let exp = &self.job.exp;
        match exp.honest.kind {
            Kind::Scripted => exp.honest.protocol.as_str(),
            k => k.name(),
        }
    }

    /// A row of both teams as they stand, networks played greedily.
    fn team_row(&self, at: &At, stats: (Option<Stats>, Option<Stats>)) -> anyhow::Result<SlushRow> {
        let (job, exp) = (self.job, &self.job.exp);
        let h_actor = self
            .honest_learner
            .as_ref()
            .map(|l| l.actor())
            .transpose()?;
        let b_actor = self.byz_learner.as_ref().map(|l| l.actor()).transpose()?;
        let h_actor = h_actor.as_ref().or(self.honest_frozen.as_ref());
        let b_actor = b_actor.as_ref().or(self.byz_frozen.as_ref());
        let optimum = match (&self.fixed_optimum, h_actor) {
            (Some(o), _) => *o,
            (None, Some(a)) => {
                score::optimum(&job.spec, HonestRule::Network(&a.policy), exp.eval.max_work)
            }
            (None, None) => None,
        };
        let mut scripted = rule(&exp.honest.protocol);
        let mut h = match h_actor {
            Some(actor) => Honest::Net {
                actor,
                greedy: true,
                record: None,
            },
            None => Honest::Rule(&mut *scripted),
        };
        let mut b = match b_actor {
            Some(actor) => Answerers::Net {
                actor,
                greedy: true,
                record: None,
            },
            None => Answerers::Scripted(&exp.byzantine.adversary),
        };
        let s = evaluate(job, &mut h, &mut b, &mut stream(exp.seed, 1000 + at.evals));
        let byz_name = byzantine_name(job);
        let at = RowAt {
            honest: self.honest_name(),
            byzantine: &byz_name,
            epoch: at.epoch,
            episodes: at.episodes,
        };
        Ok(row(job, at, &s, stats, optimum))
    }
}

/// A row as said: the sampled rates, and the attack with its interval next
/// to the optimum.
fn describe_row(r: &SlushRow) -> String {
    let (m, a) = (&r.metrics, &r.attack);
    let opt = m
        .optimal_attack_rate
        .map_or("-".into(), |o| format!("{o:.4}"));
    format!(
        "{:<10} agreement {:.4}  majority {:.4}  mean decision round {:.2}  \
         attack ({}) {:.4} [{:.4}, {:.4}] / optimum {opt}  ({} episodes sampled)",
        m.honest,
        m.agreement_rate,
        m.majority_rate.unwrap_or(0.0),
        m.mean_decision_round,
        a.attack_goal,
        a.attack_rate,
        a.attack_rate_low,
        a.attack_rate_high,
        m.eval_episodes
    )
}

impl Game for SlushRun<'_> {
    type Row = SlushRow;
    type Saved = Saved;

    fn exp(&self) -> &Experiment {
        &self.job.exp
    }

    fn name(&self) -> &str {
        self.job.name()
    }

    fn describe(&self) -> String {
        self.job.spec.describe()
    }

    fn trains(&self) -> bool {
        self.job.trains()
    }

    /// With scripted answerers: Slush and Snowflake against them first. An
    /// evaluation run of a frozen team adds its row.
    fn baselines(
        &mut self,
        _out: &Path,
        say: &dyn Fn(String),
        _timing: &mut Timing,
    ) -> anyhow::Result<Vec<SlushRow>> {
        let (job, exp) = (self.job, &self.job.exp);
        let byz_name = byzantine_name(job);
        let mut rows = vec![];
        if exp.byzantine.kind == Kind::Scripted {
            for (k, name) in PROTOCOLS.iter().enumerate() {
                let mut r = rule(name);
                let s = evaluate(
                    job,
                    &mut Honest::Rule(&mut *r),
                    &mut Answerers::Scripted(&exp.byzantine.adversary),
                    &mut stream(exp.seed, 10 + k as u64),
                );
                let optimum = score::optimum(&job.spec, rule_of(name), exp.eval.max_work);
                let at = RowAt {
                    honest: name,
                    byzantine: &byz_name,
                    epoch: 0,
                    episodes: 0,
                };
                let r = row(job, at, &s, (None, None), optimum);
                say(describe_row(&r));
                rows.push(r);
            }
        }
        let evaluates_alone = !job.trains()
            && (exp.byzantine.kind == Kind::Frozen || exp.honest.kind == Kind::Frozen);
        if evaluates_alone {
            let r = self.team_row(&At::default(), (None, None))?;
            say(describe_row(&r));
            rows.push(r);
        }
        Ok(rows)
    }

    fn learner(&self, side: Side) -> Option<&Learner> {
        match side {
            Side::Honest => self.honest_learner.as_ref(),
            Side::Byzantine => self.byz_learner.as_ref(),
        }
    }

    fn learner_mut(&mut self, side: Side) -> Option<&mut Learner> {
        match side {
            Side::Honest => self.honest_learner.as_mut(),
            Side::Byzantine => self.byz_learner.as_mut(),
        }
    }

    fn network(&self, side: Side) -> Network {
        let spec = &self.job.spec;
        Network {
            obs_dim: match side {
                Side::Honest => spec.obs_size(),
                Side::Byzantine => spec.byz_obs_size(),
            },
            heads: 1,
            rounds: spec.rounds,
        }
    }

    fn epoch(
        &mut self,
        _at: &At,
        rng: &mut ChaCha8Rng,
        upd: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        let (job, exp) = (self.job, &self.job.exp);
        let (d, bd) = (job.spec.obs_size(), job.spec.byz_obs_size());
        let h_actor = self
            .honest_learner
            .as_ref()
            .map(|l| l.actor())
            .transpose()?;
        let b_actor = self.byz_learner.as_ref().map(|l| l.actor()).transpose()?;
        let mut hbuf = h_actor.is_some().then(|| Buffer::new(d, 1));
        let mut bbuf = b_actor.is_some().then(|| Buffer::new(bd, 1));
        let mut scripted = rule(&exp.honest.protocol);
        let mut h = match (&h_actor, &self.honest_frozen) {
            (Some(actor), _) => Honest::Net {
                actor,
                greedy: false,
                record: hbuf.as_mut(),
            },
            // A frozen network plays greedily, as it is evaluated.
            (None, Some(actor)) => Honest::Net {
                actor,
                greedy: true,
                record: None,
            },
            (None, None) => Honest::Rule(&mut *scripted),
        };
        let mut b = match (&b_actor, &self.byz_frozen) {
            (Some(actor), _) => Answerers::Net {
                actor,
                greedy: false,
                record: bbuf.as_mut(),
            },
            (None, Some(actor)) => Answerers::Net {
                actor,
                greedy: true,
                record: None,
            },
            (None, None) => Answerers::Scripted(&exp.byzantine.adversary),
        };
        let env = &mut self.env;
        env.reset(rng);
        play(env, &mut h, &mut b, rng);
        let mut honest = None;
        if let (Some(buf), Some(l)) = (hbuf.as_mut(), self.honest_learner.as_mut()) {
            let n = job.spec.n;
            for e in 0..env.len() {
                let (ep, o) = (env.episode(e), env.outcome(e));
                for i in
                    envs::consensus::rules::bits(envs::consensus::rules::all(n) & !ep.byzantine)
                {
                    buf.reward_last(
                        e * n + i,
                        exp.rewards.honest_for(n, job.spec.rounds, ep, &o, i),
                    );
                }
            }
            honest = Some(l.update(buf, upd)?);
        }
        let mut byzantine = None;
        if let (Some(buf), Some(l)) = (bbuf.as_mut(), self.byz_learner.as_mut()) {
            pay_byzantine(env, buf);
            byzantine = Some(l.update(buf, upd)?);
        }
        Ok(Played {
            episodes: env.len() as u64,
            honest,
            byzantine,
        })
    }

    /// Both teams as they stand; the rows report each team's last update.
    fn evaluate(
        &mut self,
        at: &At,
        learned: &Learned,
        _out: &Path,
        _say: &dyn Fn(String),
        _timing: &mut Timing,
    ) -> anyhow::Result<SlushRow> {
        self.team_row(at, (learned.honest.last(), learned.byzantine.last()))
    }

    fn summary(&self, r: &SlushRow) -> String {
        describe_row(r)
    }

    fn optimum(&self, row: &SlushRow) -> Option<f64> {
        // The scripted baselines' rows are not the learning team's.
        (row.metrics.honest == Kind::Learned.name())
            .then_some(row.metrics.optimal_attack_rate)
            .flatten()
    }

    fn verified(&self, _row: &SlushRow) -> bool {
        // No sampling-game protocol is verified: an attack always has some chance.
        false
    }

    fn write_rows(&self, rows: &[SlushRow]) -> anyhow::Result<Vec<u8>> {
        score::csv(rows)
    }

    fn read_rows(&self, path: &Path) -> anyhow::Result<Vec<SlushRow>> {
        score::read(path)
    }

    fn saved(&self) -> Saved {
        Saved {}
    }

    fn restore(&mut self, _saved: Saved) {}
}
