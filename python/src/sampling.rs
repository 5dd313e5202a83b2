//! The sampling game (Avalanche's Slush and Snowflake, `game = "slush"`)
//! from Python: `envs::sampling::SlushEnv` behind numpy arrays, read from
//! an experiment file as `selfplay FILE --set ...` reads and checks it
//! (`SlushJob::new`).
//!
//! A round has two moves: the Byzantine answerers answer the queries the
//! round's samples sent them, then every undecided honest node, seeing how
//! many of its `k` samples answered 0 and 1, holds a colour or commits. The
//! moves of a team Python plays (`kind = "learned"`) are separate calls of
//! `step`; a scripted team's moves are played here, as the runner plays
//! them (`games::sampling::play::play`: draw, answer, act, step).

use crate::experiment;
use agents::learner::{ActScratch, Actor};
use envs::consensus::rules::bits;
use envs::consensus::NONE;
use envs::sampling::exact::Table;
use envs::sampling::{self as slush, Query, Slush, SlushEnv, SlushRule, SlushSpec, Snowflake};
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{IntoPyArray, PyReadonlyArray2};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use selfplay::config::Kind;
use selfplay::games::sampling::game::SlushJob;
use selfplay::games::sampling::verify::greedy_table;
use std::path::Path;

/// Which move of the round comes next.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// The Byzantine nodes answer this round's queries.
    Answer,
    /// The undecided honest nodes hold or commit.
    Decide,
}

/// The scripted honest rule the experiment names, as the runner builds it.
fn rule(name: &str) -> Box<dyn SlushRule> {
    match (name, slush::Trivial::parse(name)) {
        ("snowflake", _) => Box::new(Snowflake::default()),
        (_, Some(t)) => Box::new(t),
        _ => Box::new(Slush),
    }
}

/// A frozen honest network as it plays: its greedy action on every view
/// (round, colour, counts), the whole protocol, as `verify --game slush`
/// reads a checkpoint (`greedy_table`: the runner's forward pass, greedy
/// pick and mask).
struct Greedy(Table);

impl SlushRule for Greedy {
    fn name(&self) -> String {
        "frozen".into()
    }

    fn reset(&mut self, _len: usize, _n: usize) {}

    fn act(&mut self, env: &SlushEnv, e: usize, i: usize) -> u8 {
        let [z, o] = env.counts(e, i);
        self.0
            .action(env.round(), env.colour(e, i), [z as usize, o as usize])
    }
}

/// The Byzantine team Rust plays.
enum Answerers {
    /// A scripted answerer (`slush::ADVERSARIES`).
    Scripted(String),
    /// A frozen network, greedy, one answer per query as the runner asks it.
    Frozen(Box<(Actor, ActScratch)>),
}

/// A team's checkpoint (`honest.checkpoint`, `byzantine.checkpoint`),
/// loaded: `SlushJob::new` checked it belongs to this game and team.
fn checkpoint(
    config: &str,
    key: &str,
    path: Option<&Path>,
) -> PyResult<agents::checkpoint::Loaded> {
    let path = path.ok_or_else(|| {
        PyValueError::new_err(format!(
            "{config} (game slush): {key}: a frozen team needs one"
        ))
    })?;
    selfplay::config::load_checkpoint(path)
        .map_err(|e| PyValueError::new_err(format!("{config} (game slush): {key}: {e}")))
}

/// `num_envs` episodes of the sampling game, stepped together in Rust.
///
/// Arrays are indexed by episode, then by node id `0..n`. Honest actions:
/// `0` hold colour 0, `1` hold colour 1 (both keep sampling), `2` commit
/// the colour held. The Byzantine team's action has `f * n` heads, head
/// `b * n + q` the answer of the `b`-th Byzantine node (by id) to querier
/// `q`: `0`, `1` or `2` (no answer); only heads of queries asked this round
/// count. Every episode plays the same round at once; once all are over,
/// call `reset` again.
#[pyclass(unsendable, module = "selfplay._selfplay")]
pub struct SlushBatch {
    job: SlushJob,
    env: SlushEnv,
    rng: ChaCha8Rng,
    /// The honest rule when Rust plays the honest team.
    honest: Option<Box<dyn SlushRule>>,
    /// The answerers when Rust plays them (and `f > 0`).
    adversary: Option<Answerers>,
    phase: Phase,
    over: Vec<bool>,
    started: bool,
    answers: Vec<u8>,
    actions: Vec<u8>,
    queries: Vec<Query>,
}

impl SlushBatch {
    fn build(config: &str, set: &[String], num_envs: usize) -> PyResult<SlushBatch> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1"));
        }
        let exp = experiment(config, set, "slush")?;
        let job = SlushJob::new(exp)
            .map_err(|e| PyValueError::new_err(format!("{config} (game slush): {e}")))?;
        let spec = job.spec.clone();
        let exp = &job.exp;
        let honest: Option<Box<dyn SlushRule>> = match exp.honest.kind {
            Kind::Learned => None,
            Kind::Scripted => Some(rule(&exp.honest.protocol)),
            Kind::Frozen => {
                let c = checkpoint(
                    config,
                    "honest.checkpoint",
                    exp.honest.checkpoint.as_deref(),
                )?;
                let policy = c.policy().map_err(PyValueError::new_err)?;
                Some(Box::new(Greedy(greedy_table(&policy, spec.k, spec.rounds))))
            }
        };
        let adversary = match exp.byzantine.kind {
            Kind::Learned => None,
            Kind::Scripted => Some(Answerers::Scripted(exp.byzantine.adversary.clone())),
            Kind::Frozen => {
                let key = "byzantine.checkpoint";
                let c = checkpoint(config, key, exp.byzantine.checkpoint.as_deref())?;
                let err = |e: String| PyValueError::new_err(format!("{config}: {key}: {e}"));
                let actor = Actor {
                    policy: c.policy().map_err(err)?,
                    critic: c.critic().map_err(err)?,
                    heads: 1,
                };
                Some(Answerers::Frozen(Box::new((actor, ActScratch::default()))))
            }
        };
        if honest.is_some() && (adversary.is_some() || spec.f == 0) {
            return Err(PyValueError::new_err(format!(
                "{config}: Rust plays both teams of game slush (scripted or frozen), nothing is left for \
                 Python: set honest.kind = \"learned\" or byzantine.kind = \"learned\""
            )));
        }
        Ok(SlushBatch {
            env: SlushEnv::new(spec.clone(), num_envs),
            rng: ChaCha8Rng::seed_from_u64(job.exp.seed),
            honest,
            adversary,
            phase: Phase::Decide,
            over: vec![true; num_envs],
            started: false,
            answers: vec![NONE; num_envs * spec.byz_action_len()],
            actions: vec![slush::COMMIT; num_envs * spec.n],
            queries: vec![],
            job,
        })
    }

    fn spec(&self) -> &SlushSpec {
        &self.env.spec
    }

    fn episode_over(&self, e: usize) -> bool {
        self.env.acting(e) == 0
    }

    /// Starts a round: its samples drawn. With no Byzantine node, or when
    /// no honest node of any episode sampled one while Python plays the
    /// answerers (nothing to ask them), the answers are collected at once
    /// and the honest nodes move next.
    fn begin_round(&mut self) {
        self.env.draw(&mut self.rng);
        let a = self.spec().byz_action_len();
        let asked = a > 0 && {
            self.env.queries(&mut self.queries);
            !self.queries.is_empty()
        };
        if a == 0 || (self.adversary.is_none() && !asked) {
            self.answers.fill(NONE);
            self.env.answer(&self.answers);
            self.phase = Phase::Decide;
        } else {
            self.phase = Phase::Answer;
        }
    }

    /// The Snowflake counter of honest node `i` as the scripted rule keeps it.
    fn counter(&self, e: usize, i: usize) -> u8 {
        self.honest.as_ref().map_or(0, |r| r.counter(e, i))
    }

    /// A frozen network's answers to this round's queries: one greedy pick
    /// per query from what its Byzantine node sees, as the runner's
    /// `games::sampling::play` asks it (every answer allowed).
    fn frozen_answers(&mut self, actor: &Actor, scratch: &mut ActScratch) {
        self.env.queries(&mut self.queries);
        let rows = self.queries.len();
        if rows == 0 {
            return;
        }
        let (d, n, a) = (
            self.spec().byz_obs_size(),
            self.spec().n,
            self.spec().byz_action_len(),
        );
        let mut obs = vec![0.0f32; rows * d];
        for (k, &q) in self.queries.iter().enumerate() {
            let counter = |e: usize, i: usize| self.counter(e, i);
            self.env.encode_query(q, &counter, &mut obs[k * d..][..d]);
        }
        let masks = vec![0b111u8; rows];
        let (mut acts, mut logp) = (vec![0u32; rows], vec![0.0f32; rows]);
        actor.act(
            &obs,
            &masks,
            rows,
            true,
            &mut self.rng,
            scratch,
            &mut acts,
            &mut logp,
            None,
        );
        for (k, q) in self.queries.iter().enumerate() {
            self.answers[q.episode * a + q.ordinal * n + q.querier] = acts[k] as u8;
        }
    }

    /// Plays the moves Rust plays until Python's turn or every episode's end.
    fn advance(&mut self) {
        loop {
            if self.env.done() {
                return;
            }
            match self.phase {
                Phase::Answer => match self.adversary.take() {
                    Some(mut team) => {
                        self.answers.fill(NONE);
                        match &mut team {
                            Answerers::Scripted(name) => {
                                slush::adversary_answers(
                                    name,
                                    &self.env,
                                    &mut self.rng,
                                    &mut self.answers,
                                );
                            }
                            Answerers::Frozen(frozen) => {
                                let (actor, scratch) = &mut **frozen;
                                self.frozen_answers(actor, scratch)
                            }
                        }
                        self.adversary = Some(team);
                        self.env.answer(&self.answers);
                        self.phase = Phase::Decide;
                    }
                    None => return,
                },
                Phase::Decide => match self.honest.as_mut() {
                    Some(r) => {
                        let n = self.env.spec.n;
                        for e in 0..self.env.len() {
                            for i in bits(self.env.acting(e)) {
                                self.actions[e * n + i] = r.act(&self.env, e, i);
                            }
                        }
                        self.env.step(&self.actions);
                        if !self.env.done() {
                            self.begin_round();
                        }
                    }
                    None => return,
                },
            }
        }
    }

    fn check_started(&self) -> PyResult<()> {
        match self.started {
            true => Ok(()),
            false => Err(PyRuntimeError::new_err("call reset() first")),
        }
    }

    /// Whether Python moves next: the answerers (`"answer"`), the honest
    /// nodes (`"decide"`), or nobody (`"over"`).
    fn turn(&self) -> &'static str {
        match (self.env.done(), self.phase) {
            (true, _) => "over",
            (false, Phase::Answer) => "answer",
            (false, Phase::Decide) => "decide",
        }
    }
}

#[pymethods]
impl SlushBatch {
    /// `SlushBatch(config, set=[], num_envs=1)`: the experiment file
    /// `config` (`game = "slush"`) with `key.path=value` overrides.
    #[new]
    #[pyo3(signature = (config, set = Vec::new(), num_envs = 1))]
    fn new(config: &str, set: Vec<String>, num_envs: usize) -> PyResult<SlushBatch> {
        SlushBatch::build(config, &set, num_envs)
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.env.len()
    }

    #[getter]
    fn n(&self) -> usize {
        self.spec().n
    }

    #[getter]
    fn f(&self) -> usize {
        self.spec().f
    }

    #[getter]
    fn k(&self) -> usize {
        self.spec().k
    }

    #[getter]
    fn rounds(&self) -> u8 {
        self.spec().rounds
    }

    /// Width of an honest node's one-hot observation.
    #[getter]
    fn obs_size(&self) -> usize {
        self.spec().obs_size()
    }

    /// Width of what a Byzantine node sees when it answers one query.
    #[getter]
    fn adversary_obs_size(&self) -> usize {
        self.spec().byz_obs_size()
    }

    /// Heads of the Byzantine team's action: `f * n`.
    #[getter]
    fn adversary_action_len(&self) -> usize {
        self.spec().byz_action_len()
    }

    #[getter]
    fn honest_in_python(&self) -> bool {
        self.honest.is_none()
    }

    #[getter]
    fn adversary_in_python(&self) -> bool {
        self.adversary.is_none() && self.spec().byz_action_len() > 0
    }

    /// The round being played (`rounds + 1` once over).
    #[getter]
    fn round(&self) -> u8 {
        self.env.round()
    }

    /// Who moves next from Python: `"answer"`, `"decide"` or `"over"`.
    #[getter]
    fn phase(&self) -> &'static str {
        self.turn()
    }

    #[getter]
    fn describe(&self) -> String {
        self.spec().describe()
    }

    /// Starts every episode afresh; with `seed`, the generator (ChaCha8)
    /// restarts from it; at first it is seeded with the experiment's `seed`.
    #[pyo3(signature = (seed = None))]
    fn reset(&mut self, seed: Option<u64>) {
        if let Some(s) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(s);
        }
        self.env.reset(&mut self.rng);
        let (len, n) = (self.env.len(), self.spec().n);
        if let Some(r) = self.honest.as_mut() {
            r.reset(len, n);
        }
        self.begin_round();
        self.advance();
        self.over = (0..len).map(|e| self.episode_over(e)).collect();
        self.started = true;
    }

    /// Plays Python's move: with `phase == "answer"`, the answers
    /// (`adversary`, uint8 `(num_envs, f * n)`); with `"decide"`, the
    /// honest actions (`honest`, uint8 `(num_envs, n)`, read for the nodes
    /// acting now); then whatever Rust plays until Python's next move.
    /// Returns `(honest_rewards (num_envs, n), adversary_rewards
    /// (num_envs,), over (num_envs,))`: the pay comes at an episode's end
    /// (the sampling game pays nothing per round): each honest node its
    /// `Rewards::honest_for`, the Byzantine team 1 if it reached its goal
    /// (`slush.attack_goal`), else 0.
    #[pyo3(signature = (honest = None, adversary = None))]
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        honest: Option<PyReadonlyArray2<'py, u8>>,
        adversary: Option<PyReadonlyArray2<'py, u8>>,
    ) -> PyResult<(
        Bound<'py, numpy::PyArray2<f32>>,
        Bound<'py, numpy::PyArray1<f32>>,
        Bound<'py, numpy::PyArray1<bool>>,
    )> {
        self.check_started()?;
        if self.env.done() {
            return Err(PyRuntimeError::new_err(
                "every episode is over: call reset()",
            ));
        }
        let (len, n, a) = (self.env.len(), self.spec().n, self.spec().byz_action_len());
        match self.phase {
            Phase::Answer => {
                self.answers.fill(NONE);
                crate::read_actions("adversary", adversary, len, a, 3, &mut self.answers)?;
                self.env.answer(&self.answers);
                self.phase = Phase::Decide;
            }
            Phase::Decide => {
                self.actions.fill(slush::COMMIT);
                let mut given = vec![0u8; len * n];
                crate::read_actions("honest", honest, len, n, 3, &mut given)?;
                for e in 0..len {
                    for i in bits(self.env.acting(e)) {
                        self.actions[e * n + i] = given[e * n + i];
                    }
                }
                self.env.step(&self.actions);
                if !self.env.done() {
                    self.begin_round();
                }
            }
        }
        self.advance();
        let mut hr = Array2::<f32>::zeros((len, n));
        let mut ar = Array1::<f32>::zeros(len);
        let spec = self.env.spec.clone();
        for e in 0..len {
            if self.over[e] || !self.episode_over(e) {
                continue;
            }
            self.over[e] = true;
            let (ep, out) = (self.env.episode(e), self.env.outcome(e));
            for i in bits(envs::consensus::rules::all(n) & !ep.byzantine) {
                hr[[e, i]] = self.job.exp.rewards.honest_for(n, spec.rounds, ep, &out, i);
            }
            if spec.f > 0 && self.env.attack_succeeded(e, spec.attack_goal) {
                ar[e] = 1.0;
            }
        }
        Ok((
            hr.into_pyarray(py),
            ar.into_pyarray(py),
            Array1::from(self.over.clone()).into_pyarray(py),
        ))
    }

    /// What every side sees now, as a dict of arrays: `honest_obs` float32
    /// `(num_envs, n, obs_size)` (zeros for Byzantine ids; during the
    /// answer phase the counts are the last round's), `honest_mask` bool
    /// `(num_envs, n, 3)` (all false unless the node acts now: phase
    /// `"decide"` and undecided), `acting` bool `(num_envs, n)`, `honest`
    /// bool `(num_envs, n)` (the honest ids: the placement, not for honest
    /// eyes), `adversary_obs` float32 `(num_envs, f * n,
    /// adversary_obs_size)` (head `b * n + q`: what the `b`-th Byzantine
    /// node sees answering querier `q`, as `SlushEnv::encode_query` writes
    /// it; zeros for a query not asked now), `adversary_mask` bool
    /// `(num_envs, f * n, 3)` (all true for a query asked now in phase
    /// `"answer"`, else all false), `over` bool `(num_envs,)`.
    fn observe<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.check_started()?;
        let (len, n, a) = (self.env.len(), self.spec().n, self.spec().byz_action_len());
        let (o, bo) = (self.spec().obs_size(), self.spec().byz_obs_size());
        let deciding = !self.env.done() && self.phase == Phase::Decide;
        let answering = !self.env.done() && self.phase == Phase::Answer;
        let mut hobs = Array3::<f32>::zeros((len, n, o));
        let mut hmask = Array3::<bool>::from_elem((len, n, 3), false);
        let mut acting = Array2::<bool>::from_elem((len, n), false);
        let mut honest = Array2::<bool>::from_elem((len, n), false);
        let mut bobs = Array3::<f32>::zeros((len, a, bo));
        let mut bmask = Array3::<bool>::from_elem((len, a, 3), false);
        let allowed = self.env.honest_mask();
        let shown = self.env.round() <= self.spec().rounds;
        for e in 0..len {
            let ep = self.env.episode(e);
            for i in bits(envs::consensus::rules::all(n) & !ep.byzantine) {
                honest[[e, i]] = true;
                if shown {
                    let row = hobs.slice_mut(numpy::ndarray::s![e, i, ..]);
                    self.env.encode(e, i, row.into_slice().expect("contiguous"));
                }
            }
            if deciding {
                for i in bits(self.env.acting(e)) {
                    acting[[e, i]] = true;
                    for v in 0..3 {
                        hmask[[e, i, v]] = allowed >> v & 1 == 1;
                    }
                }
            }
        }
        if answering {
            let mut queries = std::mem::take(&mut self.queries);
            self.env.queries(&mut queries);
            for q in &queries {
                let h = q.ordinal * n + q.querier;
                let row = bobs.slice_mut(numpy::ndarray::s![q.episode, h, ..]);
                let counter = |e: usize, i: usize| self.counter(e, i);
                self.env
                    .encode_query(*q, &counter, row.into_slice().expect("contiguous"));
                for v in 0..3 {
                    bmask[[q.episode, h, v]] = true;
                }
            }
            self.queries = queries;
        }
        let d = PyDict::new(py);
        d.set_item("honest_obs", hobs.into_pyarray(py))?;
        d.set_item("honest_mask", hmask.into_pyarray(py))?;
        d.set_item("acting", acting.into_pyarray(py))?;
        d.set_item("honest", honest.into_pyarray(py))?;
        d.set_item("adversary_obs", bobs.into_pyarray(py))?;
        d.set_item("adversary_mask", bmask.into_pyarray(py))?;
        d.set_item("over", Array1::from(self.over.clone()).into_pyarray(py))?;
        Ok(d)
    }

    /// How each episode came out so far, bool arrays `(num_envs,)`:
    /// `honest_wins`, `agreement`, `validity`, `termination`,
    /// `decided_majority`, `attack_succeeded` (`slush.attack_goal`).
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.check_started()?;
        let len = self.env.len();
        let outs: Vec<_> = (0..len).map(|e| self.env.outcome(e)).collect();
        let goal = self.spec().attack_goal;
        let d = PyDict::new(py);
        let col = |v: Vec<bool>| Array1::from(v).into_pyarray(py);
        d.set_item(
            "honest_wins",
            col(outs.iter().map(|o| o.honest_wins()).collect()),
        )?;
        d.set_item("agreement", col(outs.iter().map(|o| o.agreement).collect()))?;
        d.set_item("validity", col(outs.iter().map(|o| o.validity).collect()))?;
        d.set_item(
            "termination",
            col(outs.iter().map(|o| o.termination).collect()),
        )?;
        d.set_item(
            "decided_majority",
            col((0..len).map(|e| self.env.decided_majority(e)).collect()),
        )?;
        d.set_item(
            "attack_succeeded",
            col((0..len)
                .map(|e| self.spec().f > 0 && self.env.attack_succeeded(e, goal))
                .collect()),
        )?;
        Ok(d)
    }
}

/// For the tests only: one episode of the sampling game played straight
/// through `SlushEnv` (one episode, seeded as `SlushBatch.reset(seed)`
/// seeds it), Python playing both teams' given moves: `honest[r]` the `n`
/// actions by id in round `r`, `answers[r]` the `f * n` answers. Returns
/// per round the acting nodes, their observations (after the answers), the
/// queries asked (as heads `b * n + q`) with what the answerer saw, then
/// each honest node's end reward, the attack's success and the placement.
#[pyfunction]
#[pyo3(signature = (config, set, seed, honest, answers))]
pub fn _slush_engine_episode<'py>(
    py: Python<'py>,
    config: &str,
    set: Vec<String>,
    seed: u64,
    honest: Vec<Vec<u8>>,
    answers: Vec<Vec<u8>>,
) -> PyResult<Bound<'py, PyDict>> {
    let exp = experiment(config, &set, "slush")?;
    let job = SlushJob::new(exp)
        .map_err(|e| PyValueError::new_err(format!("{config} (game slush): {e}")))?;
    let spec = job.spec.clone();
    let (n, a) = (spec.n, spec.byz_action_len());
    let mut env = SlushEnv::new(spec.clone(), 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    env.reset(&mut rng);
    let rounds = pyo3::types::PyList::empty(py);
    let mut r = 0;
    let mut queries = vec![];
    while !env.done() {
        env.draw(&mut rng);
        let round = PyDict::new(py);
        env.queries(&mut queries);
        let mut heads = vec![];
        let mut seen = vec![];
        for q in &queries {
            let mut o = vec![0.0f32; spec.byz_obs_size()];
            env.encode_query(*q, &|_, _| 0, &mut o);
            heads.push(q.ordinal * n + q.querier);
            seen.push(o);
        }
        round.set_item("queried", heads)?;
        round.set_item("adversary_obs", seen)?;
        let b = answers.get(r).cloned().unwrap_or_else(|| vec![NONE; a]);
        let h = honest
            .get(r)
            .cloned()
            .unwrap_or_else(|| vec![slush::COMMIT; n]);
        if h.len() != n || b.len() != a {
            return Err(PyValueError::new_err(format!(
                "round {}: expected {n} honest actions and {a} answers",
                r + 1
            )));
        }
        env.answer(&b);
        let acting: Vec<usize> = bits(env.acting(0)).collect();
        let mut obs = vec![];
        for &i in &acting {
            let mut o = vec![0.0f32; spec.obs_size()];
            env.encode(0, i, &mut o);
            obs.push(o);
        }
        round.set_item("acting", acting)?;
        round.set_item("honest_obs", obs)?;
        round.set_item("honest_mask", env.honest_mask())?;
        rounds.append(round)?;
        env.step(&h);
        r += 1;
    }
    let (ep, out) = (env.episode(0), env.outcome(0));
    let whole: Vec<(usize, f32)> = bits(envs::consensus::rules::all(n) & !ep.byzantine)
        .map(|i| (i, job.exp.rewards.honest_for(n, spec.rounds, ep, &out, i)))
        .collect();
    let d = PyDict::new(py);
    d.set_item("rounds", rounds)?;
    d.set_item("honest_rewards", whole)?;
    d.set_item(
        "attack_succeeded",
        spec.f > 0 && env.attack_succeeded(0, spec.attack_goal),
    )?;
    d.set_item("byzantine", bits(ep.byzantine).collect::<Vec<usize>>())?;
    Ok(d)
}
