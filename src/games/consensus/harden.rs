//! Hardening (`selfplay harden FILE`, or `selfplay FILE` with
//! `harden.enabled = true`): from a fixed honest protocol to a verified one,
//! as a schedule the one runner drives. Each iteration verifies the honest
//! protocol exactly. If it is broken, a fresh attacker trains against it
//! until it reaches the verifier's optimum (or its budget ends); the row of
//! the iteration is written and saved; the attacker joins a pool, and the
//! honest team retrains against the pool plus replays of every
//! counterexample the verifier has found so far. With `verify_every`, the
//! verifier also checks it during the retraining, stopping at a verified
//! protocol and queueing new counterexamples. It stops when the protocol is
//! verified or the iterations end; with `attempts`, an attempt out of
//! iterations starts over from the starting protocol.
//!
//! The runner owns the rest, as for every run: `config.toml`, `metrics.csv`
//! (one [`HardenRow`] per iteration), the checkpoints and
//! `honest_best.safetensors`, `state.safetensors` after every row (so
//! `--resume` goes on from the last iteration written, to the same bytes),
//! `timing.csv` and the plot. The game adds `protocol.txt`, the decision
//! table of the best protocol seen.

use crate::config::Experiment;
use crate::export::{csv_bytes, read_csv, write_atomic};
use crate::games::consensus::config::{HonestTeam, Resolved};
use crate::games::consensus::game::network;
use crate::games::consensus::score::exact;
use crate::games::consensus::teams::{
    ByzantinePolicy, GreedyHonest, LearnedByzantine, LearnedHonest, ReplayByzantine, Rollout,
};
use crate::runner::{At, Game, Learned, Network, Next, Played, Side};
use crate::streams::stream;
use crate::timing::Timing;
use agents::checkpoint::Tensors;
use agents::learner::Actor;
use agents::mlp::{Frozen, NamedArray};
use agents::{Buffer, Learner};
use anyhow::bail;
use envs::consensus::view::{byz_obs_size, encode, obs_size};
use envs::consensus::Switch;
use envs::consensus::{verify, BatchEnv, Instance, Limits, Protocol, Report};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One iteration of hardening: a row of `metrics.csv`.
#[derive(Serialize, Deserialize, Clone, Debug)]
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

/// A counterexample kept for replay: the instance and the Byzantine team's
/// actions, round by round.
type Replay = (Instance, Vec<Vec<u8>>);

/// Where hardening stands: what the next step does.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// A new attempt: the honest network afresh from the starting protocol.
    Start,
    /// A fresh attacker trains against the honest protocol, one batch an epoch.
    Attack,
    /// The iteration's row is due.
    Row,
    /// The honest team retrains against the pool and the replays, one batch an epoch.
    Defend,
    /// Verified, or out of attempts.
    End,
}

/// The attack phase of an iteration.
struct Attack {
    /// The honest team as verified, played greedily.
    honest: Actor,
    env: BatchEnv,
    /// Episodes the attacker has trained for, and its exact rate at the last check.
    trained: u64,
    rate: f64,
    /// Batches since the last check (the attacker is checked every
    /// `train.eval_every` episodes).
    batches: u64,
}

/// The defence phase of an iteration.
struct Defend {
    env: BatchEnv,
    replay_env: BatchEnv,
    /// Replays per batch, and the next one to play (they are cycled through).
    replay_batch: usize,
    cursor: usize,
    /// Episodes played, and epochs (an even one is the live attacker's turn).
    done: u64,
    epoch: usize,
}

/// What a resume needs of hardening beyond the learners and the runner's
/// counters (saved in `state.safetensors`; the pool and the best protocol
/// as tensors beside it). Saved after each row, so never mid-phase.
#[derive(Serialize, Deserialize)]
pub struct Saved {
    phase: Phase,
    attempt: usize,
    iteration: usize,
    honest_episodes: u64,
    /// Position in stream 0, which draws every new network's weights (u128 as text).
    init: String,
    /// Attackers in the pool; whether this iteration's attacker is live.
    pool: usize,
    attacker: bool,
    /// The lowest optimal attack rate seen (its protocol is the tensors `best.*`).
    best: Option<f64>,
    replays: Vec<Replay>,
}

/// A hardening run, as the runner drives it.
pub struct Harden<'a> {
    res: &'a Resolved,
    limits: Limits,
    /// Stream 0: the weights of each attempt's honest network and each
    /// iteration's attacker, drawn in turn.
    init: ChaCha8Rng,
    rollout: Rollout,
    phase: Phase,
    attempt: usize,
    iteration: usize,
    honest: Option<Learner>,
    /// This iteration's attacker; in the defence, the live one.
    attacker: Option<Learner>,
    pool: Vec<Actor>,
    replays: Vec<Replay>,
    honest_episodes: u64,
    /// The verifier's report on this iteration's honest protocol, and that protocol.
    checked: Option<(Report, Frozen)>,
    attack: Option<Attack>,
    defend: Option<Defend>,
    /// The protocol with the lowest optimal attack rate seen: what hardening delivers.
    best: Option<(f64, Frozen)>,
    /// Lines said with the next row (the distillation's).
    notes: Vec<String>,
    /// Episodes the live attacker trained for in its attack (its checkpoint's count).
    attacked: u64,
    /// What a resume read of the networks, until their tensors are read.
    pending: Option<Pending>,
}

/// The networks a saved state names, read by [`Game::restore`] and built
/// by [`Game::restore_tensors`].
struct Pending {
    pool: usize,
    attacker: bool,
    best: Option<f64>,
}

impl<'a> Harden<'a> {
    pub fn new(res: &'a Resolved) -> anyhow::Result<Harden<'a>> {
        if res.spec.f() == 0 {
            bail!("env.f = 0: nothing attacks, nothing to harden");
        }
        Ok(Harden {
            res,
            limits: Limits {
                max_work: res.exp.eval.max_work,
            },
            init: stream(res.exp.seed, 0),
            rollout: Rollout::default(),
            phase: Phase::Start,
            attempt: 0,
            iteration: 0,
            honest: None,
            attacker: None,
            pool: vec![],
            replays: vec![],
            honest_episodes: 0,
            checked: None,
            attack: None,
            defend: None,
            best: None,
            notes: vec![],
            attacked: 0,
            pending: None,
        })
    }

    fn honest(&self) -> &Learner {
        self.honest
            .as_ref()
            .expect("an honest network after the start")
    }

    fn new_honest(&mut self) -> anyhow::Result<Learner> {
        let d = obs_size(&self.res.spec);
        let res = self.res;
        Ok(Learner::new(d, 1, &res.exp.honest.learn, &mut self.init)?)
    }

    fn new_attacker(&mut self) -> anyhow::Result<Learner> {
        let spec = &self.res.spec;
        let (bd, heads) = (byz_obs_size(spec), spec.byz_action_len());
        let res = self.res;
        Ok(Learner::new(
            bd,
            heads,
            &res.exp.byzantine.learn,
            &mut self.init,
        )?)
    }

    /// The honest network as it stands, played greedily: what the verifier checks.
    fn greedy(&self) -> anyhow::Result<GreedyHonest> {
        Ok(GreedyHonest {
            name: "hardened".into(),
            policy: self.honest().actor()?.policy,
            rounds: self.res.spec.rounds(),
        })
    }

    /// A new attempt: fresh weights (the starting protocol distilled into
    /// them, or a checkpoint's), no pool, no replays; then iteration 0.
    fn start_attempt(&mut self) -> anyhow::Result<()> {
        let mut honest = self.new_honest()?;
        match &self.res.honest {
            HonestTeam::Protocol(p) => {
                let line = distill(self.res, &mut honest, &**p)?;
                self.notes.push(line);
            }
            HonestTeam::Learned(Some(c)) => {
                c.into_learner(&mut honest).map_err(anyhow::Error::msg)?
            }
            HonestTeam::Learned(None) => {}
        }
        self.honest = Some(honest);
        self.pool.clear();
        self.replays.clear();
        self.honest_episodes = 0;
        self.iteration = 0;
        self.begin_iteration()
    }

    /// An iteration: the honest protocol verified; unless it is verified or
    /// the iterations are over, a fresh attacker trains against it.
    fn begin_iteration(&mut self) -> anyhow::Result<()> {
        let protocol = self.greedy()?;
        let report = verify(&self.res.spec, &protocol, &self.limits)?;
        let last = report.verified || self.iteration == self.res.exp.harden.iterations;
        self.checked = Some((report, protocol.policy));
        if last {
            self.attacker = None;
            self.phase = Phase::Row;
            return Ok(());
        }
        self.attacker = Some(self.new_attacker()?);
        self.attack = Some(Attack {
            honest: self.honest().actor()?,
            env: BatchEnv::new(self.res.spec.clone(), self.res.exp.train.batch),
            trained: 0,
            rate: 0.0,
            batches: 0,
        });
        self.phase = Phase::Attack;
        self.check_attacker()
    }

    /// The attacker's exact rate: the attack ends at the verifier's optimum
    /// or when its budget is spent.
    fn check_attacker(&mut self) -> anyhow::Result<()> {
        let (res, optimum) = (self.res, self.optimum());
        let attacker = self.attacker.as_ref().expect("an attacker");
        let attack = self.attack.as_mut().expect("an attack");
        let mut h = LearnedHonest::new(attack.honest.clone(), true);
        let mut b = LearnedByzantine::new(attacker.actor()?, true);
        let rate =
            exact(res, &mut h, &mut b).map_or(attack.rate, |t| t.rate(t.episodes - t.honest_wins));
        attack.rate = rate;
        if rate >= optimum || attack.trained >= res.exp.harden.attack_episodes {
            self.phase = Phase::Row;
        }
        Ok(())
    }

    /// This iteration's optimal attack rate.
    fn optimum(&self) -> f64 {
        let (report, _) = self.checked.as_ref().expect("a verified iteration");
        report.optimal_attack_rate
    }

    /// One batch of the attack: a fresh attacker learns against the honest
    /// team played greedily; every `train.eval_every` episodes it is checked.
    fn attack_epoch(
        &mut self,
        play: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        let res = self.res;
        let (exp, spec) = (&res.exp, &res.spec);
        let (bd, heads) = (byz_obs_size(spec), spec.byz_action_len());
        let attacker = self.attacker.as_mut().expect("an attacker");
        let attack = self.attack.as_mut().expect("an attack");
        let mut h = LearnedHonest::new(attack.honest.clone(), true);
        let mut b = LearnedByzantine::new(attacker.actor()?, false);
        b.record = Some(Buffer::new(bd, heads));
        attack.env.reset(play);
        self.rollout.play(&mut attack.env, &mut h, &mut b, play);
        b.reward(&attack.env, &exp.rewards);
        let stats = attacker.update(b.record.as_ref().expect("recording"), update)?;
        let episodes = attack.env.len() as u64;
        attack.trained += episodes;
        attack.batches += 1;
        let every = (exp.train.eval_every / exp.train.batch as u64).max(1);
        if attack.batches.is_multiple_of(every) {
            self.check_attacker()?;
        }
        Ok(Played {
            episodes,
            honest: None,
            byzantine: Some(stats),
        })
    }

    /// After an iteration's row: the attacker joins the pool and the
    /// counterexamples the replays, and the defence begins; or, after the
    /// last row of an attempt (no attack), the next attempt or the end.
    fn after_row(&mut self) -> anyhow::Result<()> {
        let (report, _) = self.checked.take().expect("a verified iteration");
        let hc = &self.res.exp.harden;
        let Some(attack) = self.attack.take() else {
            self.phase = match report.verified || self.attempt + 1 == hc.attempts {
                true => Phase::End,
                false => {
                    self.attempt += 1;
                    Phase::Start
                }
            };
            return Ok(());
        };
        self.attacked = attack.trained;
        let attacker = self.attacker.as_ref().expect("an attacker");
        self.pool.push(attacker.actor()?);
        self.replays.extend(report.broken);
        self.defend = Some(self.new_defence());
        self.phase = Phase::Defend;
        Ok(())
    }

    fn new_defence(&self) -> Defend {
        let batch = self.res.exp.train.batch;
        let fraction = self.res.exp.harden.replay_fraction;
        Defend {
            env: BatchEnv::new(self.res.spec.clone(), batch),
            replay_env: BatchEnv::new(self.res.spec.clone(), 0),
            replay_batch: ((batch as f64 * fraction).round() as usize).max(1),
            cursor: 0,
            done: 0,
            epoch: 0,
        }
    }

    /// One batch of the defence: the honest team against the live attacker
    /// (every other epoch) or an older one of the pool, plus replays of the
    /// counterexamples; the verifier checks it every `verify_every` episodes.
    fn defend_epoch(
        &mut self,
        play: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        let (honest, byzantine) = self.defend_batch(play, update)?;
        let res = self.res;
        let hc = &res.exp.harden;
        let d = self.defend.as_mut().expect("a defence");
        let before = d.done;
        d.done += (res.exp.train.batch + d.replay_batch) as u64;
        d.epoch += 1;
        let (done, every) = (d.done, hc.verify_every);
        let mut over = done >= hc.defend_episodes;
        // The verifier in the loop, as in co-training: stop at a verified
        // protocol (the next iteration confirms it), else queue what breaks it.
        if every > 0 && done / every > before / every && !over {
            let check = verify(&self.res.spec, &self.greedy()?, &self.limits)?;
            over = check.verified;
            if !over {
                self.replays.extend(check.broken);
            }
        }
        if over {
            self.defend = None;
            self.honest_episodes += done;
            self.iteration += 1;
            self.begin_iteration()?;
        }
        Ok(Played {
            episodes: done - before,
            honest: Some(honest),
            byzantine,
        })
    }

    /// The batch of [`Harden::defend_epoch`], played and learned from: each
    /// team's update.
    fn defend_batch(
        &mut self,
        play: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<(agents::Stats, Option<agents::Stats>)> {
        let res = self.res;
        let (exp, spec) = (&res.exp, &res.spec);
        let (hd, bd, heads) = (obs_size(spec), byz_obs_size(spec), spec.byz_action_len());
        let d = self.defend.as_mut().expect("a defence");
        let honest = self.honest.as_mut().expect("an honest network");
        let live = self.attacker.as_mut().expect("a live attacker");
        let mut h = LearnedHonest::new(honest.actor()?, false);
        h.record = Some(Buffer::new(hd, 1));
        h.step_reward = exp.rewards.per_step();
        let live_turn = d.epoch.is_multiple_of(2);
        let mut b = if live_turn {
            let mut b = LearnedByzantine::new(live.actor()?, false);
            b.record = Some(Buffer::new(bd, heads));
            b
        } else {
            LearnedByzantine::new(self.pool[(d.epoch / 2) % self.pool.len()].clone(), false)
        };
        d.env.reset(play);
        self.rollout.play(&mut d.env, &mut h, &mut b, play);
        h.reward(&d.env, &exp.rewards);
        let live_stats = match live_turn {
            true => {
                b.reward(&d.env, &exp.rewards);
                Some(live.update(b.record.as_ref().expect("recording"), update)?)
            }
            false => None,
        };
        // Replays of the counterexamples, cycling through them.
        let picked: Vec<&Replay> = (0..d.replay_batch)
            .map(|k| &self.replays[(d.cursor + k) % self.replays.len()])
            .collect();
        d.cursor = (d.cursor + d.replay_batch) % self.replays.len();
        let insts: Vec<Instance> = picked.iter().map(|(i, _)| *i).collect();
        let mut r = ReplayByzantine {
            schedules: picked.iter().map(|(_, s)| s.clone()).collect(),
        };
        d.replay_env.reset_to(&insts);
        h.traj_offset = exp.train.batch * spec.n();
        let replayer = &mut r as &mut dyn ByzantinePolicy;
        self.rollout.play(&mut d.replay_env, &mut h, replayer, play);
        h.reward(&d.replay_env, &exp.rewards);
        let stats = honest.update(h.record.as_ref().expect("recording"), update)?;
        Ok((stats, live_stats))
    }

    /// The iteration's row, from the verifier's report and the attack.
    fn row(&self) -> HardenRow {
        let (res, spec) = (self.res, &self.res.spec);
        let (report, _) = self.checked.as_ref().expect("a verified iteration");
        let attack = self.attack.as_ref();
        HardenRow {
            run: res.name().into(),
            seed: res.exp.seed,
            n: spec.n(),
            f: spec.f(),
            rounds: spec.rounds(),
            identity: spec.identity().name().into(),
            faults: spec.faults().name().into(),
            attempt: self.attempt,
            iteration: self.iteration,
            honest_episodes: self.honest_episodes,
            attack_episodes: attack.map(|a| a.trained),
            attack_rate: attack.map(|a| a.rate),
            optimal_attack_rate: report.optimal_attack_rate,
            verified: report.verified,
            broken_instances: report.broken_instances,
            instances: report.instances,
            pool: self.pool.len(),
            replays: self.replays.len(),
        }
    }
}

impl Game for Harden<'_> {
    type Row = HardenRow;
    type Saved = Saved;

    fn exp(&self) -> &Experiment {
        &self.res.exp
    }

    fn name(&self) -> &str {
        self.res.name()
    }

    fn describe(&self) -> String {
        let hc = &self.res.exp.harden;
        format!(
            "{} | hardening: {} iterations, {} attempt(s)",
            self.res.spec.describe(),
            hc.iterations,
            hc.attempts
        )
    }

    fn trains(&self) -> bool {
        true
    }

    fn schedule(&self) -> Option<Next> {
        Some(match self.phase {
            Phase::Start | Phase::Attack | Phase::Defend => Next::Epoch,
            Phase::Row => Next::Row,
            Phase::End => Next::End,
        })
    }

    fn learner(&self, side: Side) -> Option<&Learner> {
        match side {
            Side::Honest => self.honest.as_ref(),
            Side::Byzantine => self.attacker.as_ref(),
        }
    }

    fn learner_mut(&mut self, side: Side) -> Option<&mut Learner> {
        match side {
            Side::Honest => self.honest.as_mut(),
            Side::Byzantine => self.attacker.as_mut(),
        }
    }

    fn network(&self, side: Side) -> Network {
        network(&self.res.spec, side)
    }

    /// The honest checkpoint records its honest training episodes in this
    /// attempt; the attacker's, its attack's.
    fn trained(&self, side: Side, _at: &At) -> u64 {
        match side {
            Side::Honest => self.honest_episodes,
            Side::Byzantine => self.attacked,
        }
    }

    /// A new attempt starts between two rows.
    fn begin_stretch(&mut self) -> anyhow::Result<()> {
        match self.phase {
            Phase::Start => self.start_attempt(),
            _ => Ok(()),
        }
    }

    fn epoch(
        &mut self,
        _at: &At,
        play: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        match self.phase {
            Phase::Attack => self.attack_epoch(play, update),
            Phase::Defend => self.defend_epoch(play, update),
            p => bail!("hardening: no epoch in phase {p:?}"),
        }
    }

    fn evaluate(
        &mut self,
        _at: &At,
        _learned: &Learned,
        _out: &Path,
        say: &dyn Fn(String),
        _timing: &mut Timing,
    ) -> anyhow::Result<HardenRow> {
        for line in std::mem::take(&mut self.notes) {
            say(line);
        }
        let row = self.row();
        let (report, policy) = self.checked.as_ref().expect("a verified iteration");
        let rate = report.optimal_attack_rate;
        if self.best.as_ref().is_none_or(|(b, _)| rate < *b) {
            self.best = Some((rate, policy.clone()));
        }
        self.after_row()?;
        Ok(row)
    }

    fn summary(&self, r: &HardenRow) -> String {
        let tag = match self.res.exp.harden.attempts > 1 {
            true => format!("attempt {}, ", r.attempt),
            false => String::new(),
        };
        let head = format!(
            "{tag}iteration {}: optimal attack rate {}",
            r.iteration, r.optimal_attack_rate
        );
        match (r.attack_episodes, r.attack_rate) {
            (Some(trained), Some(rate)) => format!(
                "{head} ({} of {} instances); a new attacker reached {rate} in {trained} episodes",
                r.broken_instances, r.instances
            ),
            _ if r.verified => format!("{head}: verified"),
            _ => format!("{head}: out of iterations"),
        }
    }

    fn optimum(&self, row: &HardenRow) -> Option<f64> {
        Some(row.optimal_attack_rate)
    }

    fn verified(&self, row: &HardenRow) -> bool {
        row.verified
    }

    fn write_rows(&self, rows: &[HardenRow]) -> anyhow::Result<Vec<u8>> {
        csv_bytes(rows)
    }

    fn read_rows(&self, path: &Path) -> anyhow::Result<Vec<HardenRow>> {
        read_csv(path)
    }

    fn saved(&self) -> Saved {
        Saved {
            phase: self.phase,
            attempt: self.attempt,
            iteration: self.iteration,
            honest_episodes: self.honest_episodes,
            init: self.init.get_word_pos().to_string(),
            pool: self.pool.len(),
            attacker: self.attacker.is_some(),
            best: self.best.as_ref().map(|(b, _)| *b),
            replays: self.replays.clone(),
        }
    }

    fn restore(&mut self, saved: Saved) {
        self.phase = saved.phase;
        self.attempt = saved.attempt;
        self.iteration = saved.iteration;
        self.honest_episodes = saved.honest_episodes;
        self.init
            .set_word_pos(saved.init.parse().unwrap_or_default());
        self.replays = saved.replays;
        // The networks themselves come with the tensors.
        self.pending = Some(Pending {
            pool: saved.pool,
            attacker: saved.attacker,
            best: saved.best,
        });
    }

    fn tensors(&self) -> Vec<(String, NamedArray)> {
        let mut out = vec![];
        for (k, actor) in self.pool.iter().enumerate() {
            out.extend(actor.policy.named(&format!("pool.{k}.policy")));
            out.extend(actor.critic.named(&format!("pool.{k}.critic")));
        }
        if let Some((_, policy)) = &self.best {
            out.extend(policy.named("best.policy"));
        }
        out
    }

    /// The networks of the saved state, built in their shapes (from a
    /// stream of their own: their weights are read back, here or by the
    /// runner), then read back.
    fn restore_tensors(&mut self, tensors: &Tensors) -> anyhow::Result<()> {
        let p = self.pending.take().expect("a saved state read");
        let get = |name: &str| tensors.get(name).cloned();
        let (exp, spec) = (&self.res.exp, &self.res.spec);
        let (hd, bd, heads) = (obs_size(spec), byz_obs_size(spec), spec.byz_action_len());
        let mut shapes = stream(exp.seed, 0);
        let honest = Learner::new(hd, 1, &exp.honest.learn, &mut shapes)?;
        let attacker = Learner::new(bd, heads, &exp.byzantine.learn, &mut shapes)?;
        self.pool = vec![];
        for k in 0..p.pool {
            let mut a = attacker.actor()?;
            a.policy
                .load(&format!("pool.{k}.policy"), &get)
                .map_err(anyhow::Error::msg)?;
            a.critic
                .load(&format!("pool.{k}.critic"), &get)
                .map_err(anyhow::Error::msg)?;
            self.pool.push(a);
        }
        if let Some(rate) = p.best {
            let mut policy = honest.actor()?.policy;
            policy
                .load("best.policy", &get)
                .map_err(anyhow::Error::msg)?;
            self.best = Some((rate, policy));
        }
        self.honest = Some(honest);
        self.attacker = p.attacker.then_some(attacker);
        if self.phase == Phase::Defend {
            self.defend = Some(self.new_defence());
        }
        Ok(())
    }

    /// `protocol.txt`: the decision table of the best protocol seen.
    fn finish(&mut self, out: &Path, say: &dyn Fn(String)) -> anyhow::Result<()> {
        let (best_rate, best_policy) = self.best.clone().expect("at least one iteration");
        let table = crate::games::consensus::explain::explain(
            &self.res.spec,
            &GreedyHonest {
                name: format!("hardened (best seen: optimal attack rate {best_rate})"),
                policy: best_policy,
                rounds: self.res.spec.rounds(),
            },
            &self.limits,
        )
        .map_err(anyhow::Error::msg)?;
        let path = out.join("protocol.txt");
        write_atomic(&path, table.as_bytes())?;
        say(format!("wrote {}", path.display()));
        Ok(())
    }
}

/// Clones `protocol` into the honest network on every view it can meet
/// (from stream 3, the same in every attempt); returns the line that says
/// how well.
fn distill(
    res: &Resolved,
    learner: &mut Learner,
    protocol: &dyn Protocol,
) -> anyhow::Result<String> {
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
    Ok(format!(
        "distilled {} into the honest network: {:.1}% of its {} reachable views matched",
        protocol.name(),
        matched * 100.0,
        seen.len()
    ))
}

/// `selfplay harden`: a consensus experiment, hardened until verified. The
/// same as `selfplay FILE` with `harden.enabled = true`, which this sets.
#[derive(clap::Args, Debug, Clone)]
pub struct HardenArgs {
    /// Experiment file (TOML) of the consensus game; its [harden] table sets
    /// the iterations (experiments/harden.toml is an example).
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub flags: crate::folder::RunFlags,
    /// Go on with a killed hardening run in the run folder, to the same result.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
}

/// Runs `selfplay harden`: the file read as hardening, then the same path
/// as `selfplay FILE` (the folder opened and locked, a resume checked).
pub fn command(a: &HardenArgs) -> Result<(), String> {
    let res = super::config::load_harden(&a.file, &a.flags.sets()).map_err(|e| e.to_string())?;
    crate::games::run_in_folder(&res, &a.flags, a.resume)
}

/// Hardens `res` into `out` (no resume, nothing said but through `say`);
/// returns the rows.
pub fn harden(res: &Resolved, out: &Path, say: &dyn Fn(String)) -> anyhow::Result<Vec<HardenRow>> {
    crate::runner::run(&mut Harden::new(res)?, out, say, true, false)
}
