//! A game you bring: defined here, outside the workspace crates, registered
//! beside the built-in games, trained through the library's one runner and
//! checked against its exact answer.
//!
//!     cargo run --release --example custom_game
//!
//! # The game: crash agreement (`game = "crash_agreement"`)
//!
//! Three agents each hold an input bit; one of them (any of the three) may
//! crash. There are `env.rounds` synchronous rounds (1 or 2). In every round
//! each live agent sends every other agent the set of values it knows (at
//! first its own input): flooding, fixed by the rules. The faulty agent
//! picks a round to crash in and the peers its message of that round still
//! reaches; after that round it sends nothing and does not decide (or it
//! never crashes, and decides like the others). After the last round every
//! agent that has not crashed decides 0 or 1 from what it saw: its input
//! and, per round and peer, the set received (or nothing). The honest team
//! wins an instance (inputs and faulty agent) if, whatever the crash, every
//! deciding agent decides the same value, and that value is `v` when all
//! inputs are `v`. A protocol's attack rate is the share of the 24
//! instances some crash breaks.
//!
//! The exact answer: with 2 rounds the least attack rate of any protocol
//! is 0 (FloodSet, "decide 0 if a 0 is known", breaks on no instance: f + 1
//! rounds suffice for f crashes); with 1 round it is 3/24 = 0.125, found by
//! enumerating all 2^18 decision rules (the f + 1 round lower bound,
//! computed). Both are printed through the game's `verify`.
//!
//! The learned team (PPO, one network shared by the three agents) trains
//! on 2 rounds against crashes drawn uniformly, paid by a shaped reward
//! ([`paid`]). At every row its greedy protocol is scored exactly on every
//! instance and crash; training stops at the first row broken on no
//! instance, and the kept checkpoint is checked again here: it must reach
//! the exact answer, 0, or the example exits with status 1. With this
//! file's settings 298 of seeds 1-300 reach 0 within the 12,288 episodes
//! (the slowest at 7,168; seed 1, run here, at 2,048); the other two stay
//! at 6/24 with the agents split on what to decide when both values are
//! known. A second, short run on 1 round checks that no learned protocol
//! goes below the enumerated bound. Everything is written to a temporary
//! folder; the whole example takes about a second in release mode.
//!
//! # How a game is added (what this file does, in order)
//!
//! 1. The rules and an exact score: here [`play`], [`exact`] and
//!    [`optimum`], plain functions.
//! 2. A [`runner::Game`] ([`CrashRun`]): it plays and pays a batch with the
//!    `agents` learners (`epoch`), scores a row exactly (`evaluate`), names
//!    its network and writes its rows. The runner does the rest: streams,
//!    evaluation schedule, `metrics.csv`, checkpoints (`honest_best` at the
//!    lowest attack rate), `state.safetensors` and `--resume`, timing, plot.
//! 3. A [`games::Job`] ([`CrashJob`]): the checked experiment, which runs
//!    itself through [`runner::run`].
//! 4. A [`games::Entry`] ([`Entry`]): the game's name, its experiment file
//!    ([`File`]: the keys it reads, typed; any other key an experiment sets
//!    is refused by the parser, naming it), its `job` (the checks of
//!    values), `explain` and `verify`.
//! 5. `Registry::built_in().with(&ENTRY)`: every command the program offers
//!    then reaches the game by its name, as it reaches the built-in ones
//!    (`games::load_job_in`, `games::verify::verify`, `of_checkpoint`).
//!
//! A built-in game does the same from a folder of `src/games/` and a line
//! in the registry's list (src/games/mod.rs).

use agents::learner::{pick, ActScratch};
use agents::mlp::Frozen;
use agents::{Buffer, Learner};
use envs::consensus::ConfigError;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use selfplay::config::{self, Experiment, LoadError};
use selfplay::games::{self, Registry};
use selfplay::runner::{self, At, Learned, Network, Played, Side};
use selfplay::streams::stream;
use selfplay::timing::Timing;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Agents.
const N: usize = 3;
/// The most rounds the game takes.
const MAX_ROUNDS: usize = 2;
/// Instances: input vectors times the faulty agent.
const INSTANCES: usize = (1 << N) * N;
/// Classes a decision may take: 0 and 1 (the learners' third class masked).
const DECIDE: u8 = 0b011;

// ---------------------------------------------------------------- the rules

/// What the faulty agent does: crash in `round` (0: never), its message of
/// that round reaching only the agents of `reach` (a bit mask).
#[derive(Clone, Copy, Debug)]
struct Crash {
    agent: usize,
    round: u8,
    reach: u8,
}

impl Crash {
    fn crashed(&self, i: usize) -> bool {
        self.round != 0 && self.agent == i
    }
}

/// Every behaviour of faulty agent `agent` in a game of `rounds` rounds.
fn crashes(rounds: u8, agent: usize) -> Vec<Crash> {
    let others: Vec<usize> = (0..N).filter(|&k| k != agent).collect();
    let mut all = vec![Crash {
        agent,
        round: 0,
        reach: 0,
    }];
    for round in 1..=rounds {
        for subset in 0..4u8 {
            let reach = (0..2)
                .filter(|b| subset >> b & 1 == 1)
                .fold(0, |m, b| m | 1 << others[b]);
            all.push(Crash {
                agent,
                round,
                reach,
            });
        }
    }
    all
}

/// What an agent saw: its input and, per round and peer (agents `i + 1`
/// and `i + 2`, mod 3), the set of values received (bit 0: a 0 is known,
/// bit 1: a 1 is; 0: nothing arrived).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct View {
    input: u8,
    heard: [[u8; 2]; MAX_ROUNDS],
}

impl View {
    /// The values it knows of.
    fn known(&self) -> u8 {
        self.heard
            .iter()
            .flatten()
            .fold(1 << self.input, |k, &m| k | m)
    }

    /// The network's input: the input one-hot, then per round and peer
    /// (received, knows 0, knows 1).
    fn obs(&self, rounds: u8) -> Vec<f32> {
        let mut x = vec![(self.input == 0) as u8 as f32, self.input as f32];
        for round in &self.heard[..rounds as usize] {
            for &m in round {
                x.extend([(m != 0) as u8 as f32, (m & 1) as f32, (m >> 1) as f32]);
            }
        }
        x
    }
}

fn obs_dim(rounds: u8) -> usize {
    2 + 6 * rounds as usize
}

/// One episode played out: every agent's view, who decides, and the value
/// validity demands (when the inputs are unanimous).
struct Episode {
    views: [View; N],
    decides: [bool; N],
    unanimous: Option<u8>,
}

/// The rounds of flooding under `crash`.
fn play(rounds: u8, inputs: [u8; N], crash: Crash) -> Episode {
    let mut known = inputs.map(|x| 1u8 << x);
    let mut views = inputs.map(|input| View {
        input,
        heard: [[0; 2]; MAX_ROUNDS],
    });
    for r in 1..=rounds {
        let sent = known;
        for s in (0..N).filter(|&s| !(crash.crashed(s) && crash.round < r)) {
            for i in (0..N).filter(|&i| i != s) {
                let last = crash.crashed(s) && crash.round == r;
                if !last || crash.reach >> i & 1 == 1 {
                    views[i].heard[r as usize - 1][(s + N - i) % N - 1] = sent[s];
                    known[i] |= sent[s];
                }
            }
        }
    }
    let same = inputs.iter().all(|&x| x == inputs[0]);
    Episode {
        views,
        decides: std::array::from_fn(|i| !crash.crashed(i)),
        unanimous: same.then_some(inputs[0]),
    }
}

/// Whether the deciding agents agree, on the unanimous input if there is one.
fn won(ep: &Episode, decisions: &[u8; N]) -> bool {
    let mut decided = (0..N).filter(|&i| ep.decides[i]).map(|i| decisions[i]);
    let Some(first) = decided.next() else {
        return true;
    };
    decided.all(|d| d == first) && ep.unanimous.is_none_or(|v| v == first)
}

/// What agent `i` is paid for its decision (a shaped reward: the reported
/// figures are the exact ones). The share of the other deciding agents it
/// agrees with, plus 2 when the inputs are unanimous and it decided their
/// value. Paying the team's win alone traps it: once every agent decides 0
/// on all-ones inputs, one agent deciding 1 alone still loses, so nothing
/// pulls it there. Every term is at its most exactly when the episode is
/// won.
fn paid(ep: &Episode, decisions: &[u8; N], i: usize) -> f32 {
    let others: Vec<u8> = (0..N)
        .filter(|&k| k != i && ep.decides[k])
        .map(|k| decisions[k])
        .collect();
    let agree = match others.len() {
        0 => 1.0,
        n => others.iter().filter(|&&d| d == decisions[i]).count() as f32 / n as f32,
    };
    let valid = match ep.unanimous {
        Some(v) if v == decisions[i] => 2.0,
        _ => 0.0,
    };
    agree + valid + 2.0 * won(ep, decisions) as u8 as f32
}

/// The input bits of instance `k` (`k / N` in binary) and its faulty agent.
fn instance(k: usize) -> ([u8; N], usize) {
    let bits = k / N;
    (std::array::from_fn(|i| (bits >> i & 1) as u8), k % N)
}

/// A deterministic protocol's exact figures over every instance and crash.
#[derive(Clone, Copy, Debug)]
struct Exact {
    /// Instances some crash breaks.
    broken: usize,
    /// The win rate against a crash drawn uniformly (as training draws it).
    win_rate: f64,
}

impl Exact {
    fn attack_rate(&self) -> f64 {
        self.broken as f64 / INSTANCES as f64
    }
}

fn exact(rounds: u8, decide: &dyn Fn(&View) -> u8) -> Exact {
    let (mut broken, mut won_count, mut played) = (0, 0u64, 0u64);
    for k in 0..INSTANCES {
        let (inputs, faulty) = instance(k);
        let mut any = false;
        for crash in crashes(rounds, faulty) {
            let ep = play(rounds, inputs, crash);
            let w = won(&ep, &ep.views.map(|v| decide(&v)));
            any |= !w;
            won_count += w as u64;
            played += 1;
        }
        broken += any as usize;
    }
    Exact {
        broken,
        win_rate: won_count as f64 / played as f64,
    }
}

/// The scripted protocols, for `verify --protocol` and as witnesses.
const PROTOCOLS: [&str; 3] = ["floodset", "own_input", "max_known"];

fn scripted(name: &str) -> Option<fn(&View) -> u8> {
    match name {
        // Decide 0 if a 0 is known, else 1.
        "floodset" => Some(|v| (v.known() & 1 == 0) as u8),
        "own_input" => Some(|v| v.input),
        "max_known" => Some(|v| (v.known() >> 1) & 1),
        _ => None,
    }
}

/// The game's exact answer: the least attack rate of any protocol, and how
/// it is known.
struct Optimum {
    broken: usize,
    how: String,
}

impl Optimum {
    fn rate(&self) -> f64 {
        self.broken as f64 / INSTANCES as f64
    }
}

fn optimum(rounds: u8) -> Optimum {
    let flood = exact(rounds, &scripted("floodset").expect("a protocol"));
    if flood.broken == 0 {
        return Optimum {
            broken: 0,
            how: "FloodSet breaks on no instance, and no rate is below 0".into(),
        };
    }
    assert_eq!(
        rounds, 1,
        "only one round's rules are few enough to enumerate"
    );
    // One round: a view is the input and what each peer sent (nothing, 0
    // or 1), 18 views; every rule is 18 bits. Per instance and crash, the
    // views of the deciding agents and the value validity demands.
    let slot = |m: u8| m as usize; // 0 nothing, 1 = {0}, 2 = {1}
    let index = |v: &View| v.input as usize * 9 + slot(v.heard[0][0]) * 3 + slot(v.heard[0][1]);
    type Case = (Vec<usize>, Option<u8>);
    let cases: Vec<Vec<Case>> = (0..INSTANCES)
        .map(|k| {
            let (inputs, faulty) = instance(k);
            crashes(rounds, faulty)
                .into_iter()
                .map(|c| {
                    let ep = play(rounds, inputs, c);
                    let idx = (0..N).filter(|&i| ep.decides[i]);
                    (idx.map(|i| index(&ep.views[i])).collect(), ep.unanimous)
                })
                .collect()
        })
        .collect();
    let (mut best, mut attaining) = (usize::MAX, 0u64);
    for rule in 0u32..1 << 18 {
        let d = |v: usize| (rule >> v & 1) as u8;
        let broken = cases
            .iter()
            .filter(|crashes| {
                crashes.iter().any(|(views, unanimous)| {
                    let first = d(views[0]);
                    views.iter().any(|&v| d(v) != first) || unanimous.is_some_and(|u| u != first)
                })
            })
            .count();
        match broken.cmp(&best) {
            std::cmp::Ordering::Less => (best, attaining) = (broken, 1),
            std::cmp::Ordering::Equal => attaining += 1,
            std::cmp::Ordering::Greater => {}
        }
    }
    Optimum {
        broken: best,
        how: format!("the least over all 2^18 one-round rules ({attaining} attain it)"),
    }
}

/// A policy network played greedily, as a protocol.
fn greedy(policy: &Frozen, rounds: u8) -> impl Fn(&View) -> u8 + '_ {
    move |v: &View| {
        let (mut scratch, mut logits) = (Default::default(), vec![]);
        policy.forward(&v.obs(rounds), 1, &mut scratch, &mut logits);
        // Greedy: the rng is not drawn from.
        pick(&logits, DECIDE, true, &mut stream(0, 0)).0 as u8
    }
}

// ------------------------------------------------------ the run (runner::Game)

/// One row of `metrics.csv`: exact figures of the learned greedy protocol.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Row {
    run: String,
    seed: u64,
    rounds: u8,
    epoch: u64,
    episodes: u64,
    /// Exact: its win rate against a crash drawn uniformly.
    exact_honest_win_rate: f64,
    /// Exact: the share of instances some crash breaks (the optimal attack).
    optimal_attack_rate: f64,
    broken_instances: usize,
    /// The game's exact answer: the least `optimal_attack_rate` of any protocol.
    least_attack_rate: f64,
    honest_policy_loss: Option<f64>,
    honest_value_loss: Option<f64>,
    honest_entropy: Option<f64>,
}

/// An experiment of the game, checked.
struct CrashJob {
    exp: Experiment,
    rounds: u8,
}

struct CrashRun<'a> {
    job: &'a CrashJob,
    learner: Learner,
    least: Optimum,
}

#[derive(Serialize, Deserialize)]
struct Saved {}

impl runner::Game for CrashRun<'_> {
    type Row = Row;
    type Saved = Saved;

    fn exp(&self) -> &Experiment {
        &self.job.exp
    }

    fn name(&self) -> &str {
        games::Job::name(self.job)
    }

    fn describe(&self) -> String {
        format!(
            "crash agreement, n = 3, one crash, {} round(s), learned honest team",
            self.job.rounds
        )
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "the least attack rate of any protocol is {:.4} ({})",
            self.least.rate(),
            self.least.how
        )]
    }

    fn trains(&self) -> bool {
        true
    }

    fn learner(&self, side: Side) -> Option<&Learner> {
        (side == Side::Honest).then_some(&self.learner)
    }

    fn learner_mut(&mut self, side: Side) -> Option<&mut Learner> {
        (side == Side::Honest).then_some(&mut self.learner)
    }

    fn network(&self, _side: Side) -> Network {
        Network {
            obs_dim: obs_dim(self.job.rounds),
            heads: 1,
            rounds: self.job.rounds,
        }
    }

    /// A batch against crashes drawn uniformly; every deciding agent is
    /// one step, paid by [`paid`].
    fn epoch(
        &mut self,
        _at: &At,
        play_rng: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        let (rounds, batch) = (self.job.rounds, self.job.exp.train.batch);
        let mut episodes = vec![];
        let (mut obs, mut who) = (vec![], vec![]);
        for e in 0..batch {
            let inputs = std::array::from_fn(|_| play_rng.random_range(0..2u8));
            let all = crashes(rounds, play_rng.random_range(0..N));
            let ep = play(rounds, inputs, all[play_rng.random_range(0..all.len())]);
            for i in (0..N).filter(|&i| ep.decides[i]) {
                obs.extend(ep.views[i].obs(rounds));
                who.push((e, i));
            }
            episodes.push(ep);
        }
        let rows = who.len();
        let (mut actions, mut logp, mut values) = (vec![0; rows], vec![0.0; rows], vec![0.0; rows]);
        let masks = vec![DECIDE; rows];
        self.learner.actor()?.act(
            &obs,
            &masks,
            rows,
            false,
            play_rng,
            &mut ActScratch::default(),
            &mut actions,
            &mut logp,
            Some(&mut values),
        );
        let mut decisions = vec![[0u8; N]; batch];
        for (r, &(e, i)) in who.iter().enumerate() {
            decisions[e][i] = actions[r] as u8;
        }
        let d = obs_dim(rounds);
        let mut buf = Buffer::new(d, 1);
        for (r, &(e, i)) in who.iter().enumerate() {
            let x = &obs[r * d..][..d];
            buf.push(r, x, &[DECIDE], &actions[r..=r], logp[r], values[r]);
            buf.reward_last(r, paid(&episodes[e], &decisions[e], i));
        }
        Ok(Played {
            episodes: batch as u64,
            honest: Some(self.learner.update(&buf, update)?),
            byzantine: None,
        })
    }

    fn evaluate(
        &mut self,
        at: &At,
        learned: &Learned,
        _out: &Path,
        _say: &dyn Fn(String),
        _timing: &mut Timing,
    ) -> anyhow::Result<Row> {
        let policy = self.learner.policy.frozen()?;
        let e = exact(self.job.rounds, &greedy(&policy, self.job.rounds));
        let stats = learned.honest.mean();
        Ok(Row {
            run: games::Job::name(self.job).into(),
            seed: self.job.exp.seed,
            rounds: self.job.rounds,
            epoch: at.epoch,
            episodes: at.episodes,
            exact_honest_win_rate: e.win_rate,
            optimal_attack_rate: e.attack_rate(),
            broken_instances: e.broken,
            least_attack_rate: self.least.rate(),
            honest_policy_loss: stats.map(|s| s.policy_loss),
            honest_value_loss: stats.map(|s| s.value_loss),
            honest_entropy: stats.map(|s| s.entropy),
        })
    }

    fn summary(&self, r: &Row) -> String {
        format!(
            "win vs a random crash {:.4}  broken {:>2}/{INSTANCES} (attack rate {:.4}, least {:.4})",
            r.exact_honest_win_rate, r.broken_instances, r.optimal_attack_rate, r.least_attack_rate
        )
    }

    fn optimum(&self, r: &Row) -> Option<f64> {
        Some(r.optimal_attack_rate)
    }

    fn verified(&self, r: &Row) -> bool {
        r.broken_instances == 0
    }

    fn write_rows(&self, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
        selfplay::export::csv_bytes(rows)
    }

    fn read_rows(&self, path: &Path) -> anyhow::Result<Vec<Row>> {
        let mut r = csv::Reader::from_path(path)?;
        Ok(r.deserialize().collect::<Result<_, _>>()?)
    }

    fn saved(&self) -> Saved {
        Saved {}
    }

    fn restore(&mut self, _saved: Saved) {}
}

// ------------------------------------------------ the registry's entry and job

impl games::Job for CrashJob {
    fn exp(&self) -> &Experiment {
        &self.exp
    }

    fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or(NAME)
    }

    fn trains(&self) -> bool {
        true
    }

    fn run(&self, out: &Path, quiet: bool, resume: bool) -> anyhow::Result<()> {
        let exp = &self.exp;
        let learner = Learner::new(
            obs_dim(self.rounds),
            1,
            &exp.honest.learn,
            &mut stream(exp.seed, 0),
        )?;
        let mut game = CrashRun {
            job: self,
            learner,
            least: optimum(self.rounds),
        };
        let say = selfplay::out::sayer(quiet);
        runner::run(&mut game, out, &say, quiet, resume)?;
        Ok(())
    }
}

const NAME: &str = "crash_agreement";

// The game's experiment file: the keys it reads, typed; any other key is
// refused by the parser, naming it.
selfplay::experiment_file! {
    struct File { env: Env, honest: Honest, train: Train }
}

selfplay::some_keys! {
    /// `[env]`: the number of rounds (1 or 2).
    struct Env of envs::consensus::EnvConfig { rounds: Option<u8> }
}

selfplay::some_keys! {
    /// `[honest]`: the learner only (the team always learns).
    struct Honest of selfplay::config::HonestConfig { learn: agents::LearnConfig }
}

selfplay::some_keys! {
    /// `[train]`: how long, in what batches, and when to stop.
    struct Train of selfplay::config::TrainConfig {
        episodes: u64,
        batch: usize,
        eval_every: u64,
        stop_when_verified: bool,
    }
}

struct Entry;
static ENTRY: Entry = Entry;

impl games::Entry for Entry {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "three agents, one crash, 1 or 2 rounds of flooding (examples/custom_game.rs)"
    }

    fn read(&self, text: &str, file: &str) -> Result<Experiment, LoadError> {
        selfplay::experiment_file::read::<File>(NAME, text, file)
    }

    fn job(&self, exp: Experiment) -> Result<Box<dyn games::Job>, ConfigError> {
        config::check_values(&exp)?;
        let rounds = exp.env.rounds.unwrap_or(2);
        if !(1..=MAX_ROUNDS as u8).contains(&rounds) {
            return Err(ConfigError::new(
                "env.rounds",
                rounds,
                "the game has 1 or 2 rounds",
            ));
        }
        for (key, v) in [
            ("train.episodes", exp.train.episodes),
            ("train.eval_every", exp.train.eval_every),
        ] {
            if v == 0 {
                return Err(ConfigError::new(
                    key,
                    0,
                    "the honest team learns: needs at least 1",
                ));
            }
        }
        // The batch's views and the buffer's steps, about 200 bytes a decision.
        let bytes = exp.train.batch as f64 * N as f64 * 200.0;
        if bytes > 8e9 {
            return Err(ConfigError::new(
                "train.batch",
                exp.train.batch,
                format!("would take about {:.0} GB: keep it under 8 GB", bytes / 1e9),
            ));
        }
        Ok(Box::new(CrashJob { exp, rounds }))
    }

    fn explain(&self, checkpoint: &Path, _max_work: f64) -> Result<String, String> {
        let c = config::load_checkpoint(checkpoint)?;
        if let Some(other) = config::other_game(&c, NAME) {
            return Err(format!("{}: {other}", checkpoint.display()));
        }
        let (policy, rounds) = (c.policy()?, c.meta.rounds);
        let decide = greedy(&policy, rounds);
        // Per set of known values: how many of the views reached decide 0 and 1.
        let mut counts = [[0u32; 2]; 4];
        let mut seen = vec![];
        for k in 0..INSTANCES {
            let (inputs, faulty) = instance(k);
            for crash in crashes(rounds, faulty) {
                let ep = play(rounds, inputs, crash);
                for v in (0..N).filter(|&i| ep.decides[i]).map(|i| ep.views[i]) {
                    if !seen.contains(&v) {
                        seen.push(v);
                        counts[v.known() as usize][decide(&v) as usize] += 1;
                    }
                }
            }
        }
        let e = exact(rounds, &decide);
        let mut text = format!(
            "{}: {rounds} round(s), trained {} episodes; {} distinct views reachable\n",
            checkpoint.display(),
            c.meta.episodes,
            seen.len()
        );
        for (known, name) in [(1, "{0}"), (2, "{1}"), (3, "{0, 1}")] {
            let [zero, one] = counts[known];
            text += &format!("  knows {name:<7} decides 0 in {zero:>3} views, 1 in {one:>3}\n");
        }
        text += &format!(
            "  broken on {}/{INSTANCES} instances (attack rate {:.4}), win rate vs a random crash {:.4}",
            e.broken,
            e.attack_rate(),
            e.win_rate
        );
        Ok(text)
    }

    fn verify_reads(&self) -> &'static [&'static str] {
        &["protocol", "checkpoint", "n", "f", "rounds"]
    }

    fn verify(&self, c: &games::verify::Common, _m: &clap::ArgMatches) -> Result<(), String> {
        if c.n.is_some_and(|n| n != N) || c.f.is_some_and(|f| f != 1) {
            return Err(format!(
                "--n, --f: {NAME} is played by 3 agents, one of which may crash"
            ));
        }
        let (name, policy, rounds) = match (&c.protocol, &c.checkpoint) {
            (Some(p), _) => (p.clone(), None, c.rounds.unwrap_or(2)),
            (None, Some(path)) => {
                let ck = config::load_checkpoint(path)?;
                if let Some(other) = config::other_game(&ck, NAME) {
                    return Err(format!("{}: {other}", path.display()));
                }
                let rounds = ck.meta.rounds;
                (path.display().to_string(), Some(ck.policy()?), rounds)
            }
            (None, None) => return Err("--protocol or --checkpoint".into()),
        };
        if !(1..=MAX_ROUNDS as u8).contains(&rounds) {
            return Err(format!("--rounds {rounds}: the game has 1 or 2 rounds"));
        }
        let e = match &policy {
            Some(p) => exact(rounds, &greedy(p, rounds)),
            None => {
                let f = scripted(&name).ok_or_else(|| {
                    format!(
                        "--protocol {name}: the protocols are {}",
                        PROTOCOLS.join(", ")
                    )
                })?;
                exact(rounds, &f)
            }
        };
        let least = optimum(rounds);
        println!(
            "{name}, {rounds} round(s): broken on {}/{INSTANCES} instances (attack rate {:.4}); \
             the least of any protocol is {}/{INSTANCES} = {:.4} ({})",
            e.broken,
            e.attack_rate(),
            least.broken,
            least.rate(),
            least.how
        );
        Ok(())
    }
}

// ------------------------------------------------------------------- the example

/// The experiment: PPO on 2 rounds, stopping at the first row that is
/// broken on no instance.
const EXPERIMENT: &str = r#"
game = "crash_agreement"
seed = 1

[env]
rounds = 2

[honest.learn]
hidden = [32]
lr = 0.002
entropy_coef = 0.05
minibatch = 256

[train]
episodes = 12288
batch = 128
eval_every = 512
stop_when_verified = true
"#;

fn fail(message: String) -> ! {
    eprintln!("custom_game: FAILED: {message}");
    std::process::exit(1);
}

fn main() -> anyhow::Result<()> {
    let clock = Instant::now();
    let registry = Registry::built_in()
        .with(&ENTRY)
        .map_err(anyhow::Error::msg)?;
    println!("registered: {}", registry.names().join(", "));

    // The exact answer, through `verify` as `selfplay verify` dispatches it.
    let verify = games::verify::with_flags(&registry, clap::Command::new("verify"));
    for rounds in ["1", "2"] {
        let args = [
            "verify",
            "--game",
            NAME,
            "--protocol",
            "floodset",
            "--n",
            "3",
            "--f",
            "1",
            "--rounds",
            rounds,
        ];
        let m = verify.clone().try_get_matches_from(args)?;
        games::verify::verify(&registry, &m).map_err(anyhow::Error::msg)?;
    }
    let least = optimum(2);

    // The experiment, loaded as `selfplay FILE` loads one; a key the game
    // does not read is refused, naming it.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("crash_agreement.toml");
    std::fs::write(&file, EXPERIMENT)?;
    for set in ["env.n=4", "slush.k=3"] {
        match games::load_job_in(&registry, &file, &[set.to_string()]) {
            Ok(_) => fail(format!(
                "--set {set} was accepted by a game that does not read it"
            )),
            Err(e) if e.message.contains(set.split('=').next().unwrap()) => {
                println!("refused as it should be: {e}")
            }
            Err(e) => fail(format!("--set {set} refused without naming the key: {e}")),
        }
    }
    let job = games::load_job_in(&registry, &file, &[]).map_err(anyhow::Error::msg)?;

    // Training through the library's runner, into the temporary folder.
    let out = dir.path().join("run");
    let trained = Instant::now();
    job.run(&out, false, false)?;
    let secs = trained.elapsed().as_secs_f64();

    // The result, checked exactly: the kept checkpoint, reached by its game.
    let best = out.join("honest_best.safetensors");
    let entry = registry.of_checkpoint(&best).map_err(anyhow::Error::msg)?;
    println!("{}", entry.explain(&best, 0.0).map_err(anyhow::Error::msg)?);
    let ck = config::load_checkpoint(&best).map_err(anyhow::Error::msg)?;
    let e = exact(2, &greedy(&ck.policy().map_err(anyhow::Error::msg)?, 2));
    if e.broken != least.broken {
        fail(format!(
            "the learned 2-round protocol is broken on {}/{INSTANCES} instances; \
             the exact answer is {}/{INSTANCES}",
            e.broken, least.broken
        ));
    }
    println!(
        "learned 2-round protocol: attack rate {:.4} = the least of any protocol ({:.4}), \
         after {} episodes in {secs:.1} s",
        e.attack_rate(),
        least.rate(),
        ck.meta.episodes
    );

    // One round: no protocol, learned or not, goes below the enumerated
    // bound. The runner's rows are scored by `exact`, the bound by
    // enumeration: two computations that must agree.
    let one = [
        "env.rounds=1",
        "train.episodes=2048",
        "train.stop_when_verified=false",
    ];
    let sets = one.map(String::from);
    let job = games::load_job_in(&registry, &file, &sets).map_err(anyhow::Error::msg)?;
    let out1 = dir.path().join("run_one_round");
    job.run(&out1, true, false)?;
    let rows: Vec<Row> = csv::Reader::from_path(out1.join("metrics.csv"))?
        .deserialize()
        .collect::<Result<_, _>>()?;
    let lowest = rows
        .iter()
        .map(|r| r.broken_instances)
        .min()
        .unwrap_or(INSTANCES);
    let bound = optimum(1);
    if lowest < bound.broken {
        fail(format!(
            "a learned 1-round protocol is broken on {lowest}/{INSTANCES} instances, \
             below the enumerated least {}/{INSTANCES}",
            bound.broken
        ));
    }
    println!(
        "learned 1-round protocol: at best broken on {lowest}/{INSTANCES} instances in {} rows, \
         never below the least of any protocol ({}/{INSTANCES})",
        rows.len(),
        bound.broken
    );
    println!("done in {:.1} s", clock.elapsed().as_secs_f64());
    Ok(())
}
