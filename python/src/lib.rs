//! The games of selfplay from Python (issue 29): the consensus game's
//! batched engine (`envs::consensus::BatchEnv`) behind numpy arrays. The
//! PettingZoo environment is written in Python over it
//! (`selfplay/consensus.py`); the experiment is read exactly as the CLI
//! reads it, `--set` overrides included.
//!
//! A team the experiment makes learn (`kind = "learned"`) is played from
//! Python; a scripted or frozen team is played here, in Rust, as the runner
//! plays it.

use envs::consensus::rules::{bits, ACTIONS};
use envs::consensus::view::{self, byz_obs_size, obs_size, View};
use envs::consensus::{protocols, BatchEnv, EnvSpec, Protocol, Rewards, NONE};
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{IntoPyArray, PyReadonlyArray2};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use selfplay::config::Experiment;
use selfplay::games::consensus::config::{load_with, ByzantineTeam, HonestTeam, Resolved};
use selfplay::games::consensus::teams::team::{adversary, frozen_actor};
use selfplay::games::consensus::teams::{
    ByzantinePolicy, HonestPolicy, LearnedByzantine, ScriptedHonest,
};
use selfplay::games::{load_experiment, Registry};
use std::path::Path;
use std::sync::Arc;

mod bench;
mod broadcast;
mod sampling;
mod verify;

/// Reads an experiment file with overrides as `selfplay FILE --set ...`
/// does (its game's own keys, nothing else), refused unless its game is
/// `game`. The game's checks are the caller's (its job's `new`).
fn experiment(config: &str, set: &[String], game: &str) -> PyResult<Experiment> {
    let (exp, _) = load_experiment(&Registry::built_in(), Path::new(config), set)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    if exp.game != game {
        return Err(PyValueError::new_err(format!(
            "{config}: game = \"{}\", not {game}: selfplay.make_env(config) builds the \
             environment of the game a file names",
            exp.game
        )));
    }
    Ok(exp)
}

/// The game an experiment file (with overrides) names: `game = "..."`.
#[pyfunction]
#[pyo3(signature = (config, set = Vec::new()))]
fn _game_of(config: &str, set: Vec<String>) -> PyResult<String> {
    let (exp, _) = load_experiment(&Registry::built_in(), Path::new(config), &set)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(exp.game)
}

/// Reads a consensus experiment as `selfplay FILE --set ...` does.
fn load(config: &str, set: &[String]) -> PyResult<Resolved> {
    load_with(Path::new(config), set).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `num_envs` episodes of the consensus game, stepped together in Rust.
///
/// Arrays are indexed by episode, then by agent id `0..n`. The honest
/// actions are `0` send, `1` commit 0, `2` commit 1; the adversary's action
/// has `adversary_action_len` heads, each `0`, `1` or `2` (nothing), laid
/// out as `EnvSpec::byz_action_len` says. Every episode plays the same
/// round at once; once all are over, call `reset` again.
#[pyclass(unsendable, module = "selfplay._selfplay")]
pub struct ConsensusBatch {
    spec: Arc<EnvSpec>,
    rewards: Rewards,
    env: BatchEnv,
    rng: ChaCha8Rng,
    /// The honest team when Rust plays it (scripted or frozen).
    honest: Option<Box<dyn HonestPolicy>>,
    /// The adversary when Rust plays it (scripted or frozen).
    adversary: Option<Box<dyn ByzantinePolicy>>,
    /// Per episode: over (every agent decided or the last round played).
    over: Vec<bool>,
    started: bool,
    honest_actions: Vec<u8>,
    byz_actions: Vec<u8>,
    describe: String,
}

impl ConsensusBatch {
    fn build(config: &str, set: &[String], num_envs: usize) -> PyResult<ConsensusBatch> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1"));
        }
        let res = load(config, set)?;
        let honest: Option<Box<dyn HonestPolicy>> = match &res.honest {
            HonestTeam::Protocol(p) => Some(Box::new(ScriptedHonest {
                protocol: p.clone(),
            })),
            HonestTeam::Learned(_) => None,
        };
        let adversary: Option<Box<dyn ByzantinePolicy>> = match &res.byzantine {
            ByzantineTeam::Scripted(names) => {
                let protocol: Arc<dyn Protocol> = match &res.honest {
                    HonestTeam::Protocol(p) => p.clone(),
                    HonestTeam::Learned(_) if names[0] == "twins" => {
                        return Err(PyValueError::new_err(
                            "byzantine.adversary = \"twins\" runs the honest protocol, which \
                             Python plays here (honest.kind = \"learned\"): choose another \
                             adversary",
                        ))
                    }
                    // The other scripted adversaries never read the protocol.
                    HonestTeam::Learned(_) => Arc::new(protocols::Constant),
                };
                Some(adversary(&names[0], &protocol).0)
            }
            ByzantineTeam::Frozen(c) => {
                let actor =
                    frozen_actor(&res, c).map_err(|e| PyValueError::new_err(e.to_string()))?;
                Some(Box::new(LearnedByzantine::new(actor, true)))
            }
            ByzantineTeam::Learned(_) => None,
        };
        let spec = res.spec.clone();
        Ok(ConsensusBatch {
            env: BatchEnv::new(spec.clone(), num_envs),
            rng: ChaCha8Rng::seed_from_u64(res.exp.seed),
            rewards: res.exp.rewards.clone(),
            describe: spec.describe(),
            spec,
            honest,
            adversary,
            over: vec![true; num_envs],
            started: false,
            honest_actions: vec![0; num_envs * res.spec.n()],
            byz_actions: vec![NONE; num_envs * res.spec.byz_action_len()],
        })
    }

    fn episode_over(&self, e: usize) -> bool {
        self.env.round() > self.spec.rounds() || self.env.episode(e).finished(&self.spec)
    }

    /// The round an observation shows: once the last round is played, the last.
    fn shown_round(&self) -> u8 {
        self.env.round().min(self.spec.rounds())
    }

    fn check_started(&self) -> PyResult<()> {
        match self.started {
            true => Ok(()),
            false => Err(PyRuntimeError::new_err("call reset() first")),
        }
    }
}

/// Copies a `(num_envs, width)` uint8 array into `out`, each value below `below`.
pub(crate) fn read_actions(
    what: &str,
    a: Option<PyReadonlyArray2<u8>>,
    rows: usize,
    width: usize,
    below: u8,
    out: &mut [u8],
) -> PyResult<()> {
    let a = a.ok_or_else(|| {
        PyValueError::new_err(format!(
            "{what} actions are played from Python here: pass a uint8 array of shape ({rows}, {width})"
        ))
    })?;
    let v = a.as_array();
    if v.shape() != [rows, width] {
        return Err(PyValueError::new_err(format!(
            "{what} actions: expected shape ({rows}, {width}), got {:?}",
            v.shape()
        )));
    }
    for (o, &x) in out.iter_mut().zip(v.iter()) {
        if x >= below {
            return Err(PyValueError::new_err(format!(
                "{what} actions: {x} is not an action (0 to {})",
                below - 1
            )));
        }
        *o = x;
    }
    Ok(())
}

#[pymethods]
impl ConsensusBatch {
    /// `ConsensusBatch(config, set=[], num_envs=1)`: the experiment file
    /// `config` with `key.path=value` overrides, as the CLI reads it.
    #[new]
    #[pyo3(signature = (config, set = Vec::new(), num_envs = 1))]
    fn new(config: &str, set: Vec<String>, num_envs: usize) -> PyResult<ConsensusBatch> {
        ConsensusBatch::build(config, &set, num_envs)
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.env.len()
    }

    #[getter]
    fn n(&self) -> usize {
        self.spec.n()
    }

    #[getter]
    fn f(&self) -> usize {
        self.spec.f()
    }

    #[getter]
    fn rounds(&self) -> u8 {
        self.spec.rounds()
    }

    /// Agents that run the honest protocol: `n - f` under Byzantine faults,
    /// all `n` under crash and omission faults.
    #[getter]
    fn followers(&self) -> usize {
        self.spec.followers()
    }

    /// Width of an honest agent's one-hot observation.
    #[getter]
    fn obs_size(&self) -> usize {
        obs_size(&self.spec)
    }

    /// Width of the adversary's observation.
    #[getter]
    fn adversary_obs_size(&self) -> usize {
        byz_obs_size(&self.spec)
    }

    /// Heads of the adversary's action (0: it has no choice to make).
    #[getter]
    fn adversary_action_len(&self) -> usize {
        self.spec.byz_action_len()
    }

    /// Whether Python plays the honest team (`honest.kind = "learned"`).
    #[getter]
    fn honest_in_python(&self) -> bool {
        self.honest.is_none()
    }

    /// Whether Python plays the adversary (`byzantine.kind = "learned"`).
    #[getter]
    fn adversary_in_python(&self) -> bool {
        self.adversary.is_none() && self.spec.byz_action_len() > 0
    }

    /// The round the next `step` plays (`rounds + 1` once over).
    #[getter]
    fn round(&self) -> u8 {
        self.env.round()
    }

    /// One line naming the game, as the CLI's logs do.
    #[getter]
    fn describe(&self) -> String {
        self.describe.clone()
    }

    /// Starts every episode afresh. With `seed`, the generator restarts
    /// from it (ChaCha8 seeded with `seed`, as the Rust engine's tests seed
    /// it); without, it goes on. At first it is seeded with the
    /// experiment's `seed`.
    #[pyo3(signature = (seed = None))]
    fn reset(&mut self, seed: Option<u64>) {
        if let Some(s) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(s);
        }
        self.env.reset(&mut self.rng);
        self.over = (0..self.env.len()).map(|e| self.episode_over(e)).collect();
        self.started = true;
    }

    /// Plays one round in every episode. `honest`: uint8 `(num_envs, n)`,
    /// the action of agent `i` at `[e, i]` (read only for agents acting
    /// now); `adversary`: uint8 `(num_envs, adversary_action_len)`. Pass
    /// `None` for a team Rust plays. Returns `(honest_rewards (num_envs,
    /// n), adversary_rewards (num_envs,), over (num_envs,))`: what each
    /// agent is paid for this round, as the Rust learners pay it (the
    /// per-step penalty to each agent that acted; at an episode's end every
    /// agent that ran the protocol gets its end reward, and the adversary
    /// its own).
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
        let (len, n, a) = (self.env.len(), self.spec.n(), self.spec.byz_action_len());
        // Rust's teams act as the runner's rollout has them: honest, then adversary.
        self.honest_actions.fill(0);
        match self.honest.as_mut() {
            Some(p) => p.act(&self.env, &mut self.rng, &mut self.honest_actions),
            None => read_actions(
                "honest",
                honest,
                len,
                n,
                ACTIONS as u8,
                &mut self.honest_actions,
            )?,
        }
        self.byz_actions.fill(NONE);
        match self.adversary.as_mut() {
            Some(p) => p.act(&self.env, &mut self.rng, &mut self.byz_actions),
            None if a > 0 => {
                read_actions("adversary", adversary, len, a, 3, &mut self.byz_actions)?
            }
            None => {}
        }
        let acting: Vec<u32> = (0..len).map(|e| self.env.acting(e)).collect();
        self.env.step(&self.honest_actions, &self.byz_actions);
        let mut hr = Array2::<f32>::zeros((len, n));
        let mut ar = Array1::<f32>::zeros(len);
        let per_step = self.rewards.per_step();
        for e in 0..len {
            for i in bits(acting[e]) {
                hr[[e, i]] += per_step;
            }
            if self.over[e] || !self.episode_over(e) {
                continue;
            }
            self.over[e] = true;
            let (ep, out) = (self.env.episode(e), self.env.outcome(e));
            for i in bits(ep.followers & envs::consensus::rules::all(n)) {
                hr[[e, i]] += self.rewards.honest_at_end(&self.spec, ep, &out, i);
            }
            ar[e] = self.rewards.byzantine(&self.spec, ep, &out);
        }
        let over = Array1::from(self.over.clone());
        Ok((
            hr.into_pyarray(py),
            ar.into_pyarray(py),
            over.into_pyarray(py),
        ))
    }

    /// What every agent sees now, as a dict of arrays:
    /// `honest_obs` float32 `(num_envs, n, obs_size)` (zeros for agents
    /// that do not run the protocol), `honest_mask` bool `(num_envs, n, 3)`
    /// (all false for agents not acting now), `acting` bool `(num_envs,
    /// n)`, `followers` bool `(num_envs, n)` (the agents that run the
    /// protocol, which under Byzantine faults gives away the placement: not
    /// for honest agents' eyes), `adversary_obs` float32 `(num_envs,
    /// adversary_obs_size)`, `adversary_mask` bool `(num_envs,
    /// adversary_action_len, 3)` (all false once an episode is over),
    /// `over` bool `(num_envs,)`.
    fn observe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.check_started()?;
        let spec = &*self.spec;
        let (len, n, a) = (self.env.len(), spec.n(), spec.byz_action_len());
        let (o, bo) = (obs_size(spec), byz_obs_size(spec));
        let round = self.shown_round();
        let mut hobs = Array3::<f32>::zeros((len, n, o));
        let mut hmask = Array3::<bool>::from_elem((len, n, ACTIONS), false);
        let mut acting = Array2::<bool>::from_elem((len, n), false);
        let mut followers = Array2::<bool>::from_elem((len, n), false);
        let mut bobs = Array2::<f32>::zeros((len, bo));
        let mut bmask = Array3::<bool>::from_elem((len, a, 3), false);
        let mut heads = vec![0u8; a];
        let allowed = self.env.honest_mask();
        for e in 0..len {
            let ep = self.env.episode(e);
            let inbox = self.env.inbox(e);
            for i in bits(ep.followers & envs::consensus::rules::all(n)) {
                followers[[e, i]] = true;
                let row = hobs.slice_mut(numpy::ndarray::s![e, i, ..]);
                let out = row.into_slice().expect("contiguous");
                view::encode(&View::of(spec, round, ep, inbox, i), out);
            }
            for i in bits(self.env.acting(e)) {
                acting[[e, i]] = true;
                for (k, &ok) in allowed.iter().enumerate() {
                    hmask[[e, i, k]] = ok;
                }
            }
            let row = bobs.slice_mut(numpy::ndarray::s![e, ..]);
            view::encode_byzantine(
                spec,
                round,
                ep,
                inbox,
                row.into_slice().expect("contiguous"),
            );
            if !self.over[e] && a > 0 {
                self.env.byz_mask(e, &mut heads);
                for (h, m) in heads.iter().enumerate() {
                    for v in 0..3 {
                        bmask[[e, h, v]] = m >> v & 1 == 1;
                    }
                }
            }
        }
        let d = PyDict::new(py);
        d.set_item("honest_obs", hobs.into_pyarray(py))?;
        d.set_item("honest_mask", hmask.into_pyarray(py))?;
        d.set_item("acting", acting.into_pyarray(py))?;
        d.set_item("followers", followers.into_pyarray(py))?;
        d.set_item("adversary_obs", bobs.into_pyarray(py))?;
        d.set_item("adversary_mask", bmask.into_pyarray(py))?;
        d.set_item("over", Array1::from(self.over.clone()).into_pyarray(py))?;
        Ok(d)
    }

    /// How each episode came out so far, as bool arrays `(num_envs,)`:
    /// `honest_wins`, `agreement`, `validity`, `termination` (final once
    /// the episode is over).
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.check_started()?;
        let outs: Vec<_> = (0..self.env.len()).map(|e| self.env.outcome(e)).collect();
        let d = PyDict::new(py);
        let col = |f: &dyn Fn(&envs::consensus::Outcome) -> bool| {
            Array1::from(outs.iter().map(f).collect::<Vec<bool>>()).into_pyarray(py)
        };
        d.set_item("honest_wins", col(&|o| o.honest_wins()))?;
        d.set_item("agreement", col(&|o| o.agreement))?;
        d.set_item("validity", col(&|o| o.validity))?;
        d.set_item("termination", col(&|o| o.termination))?;
        Ok(d)
    }
}

/// For the tests only: one episode played straight through the Rust engine
/// (`BatchEnv` of one, seeded as `ConsensusBatch.reset(seed)` seeds it),
/// with the given actions per round (`honest[r]`: `n` actions by agent id,
/// `adversary[r]`: the adversary's heads). Returns per round what the
/// engine shows (acting agents, their observations and masks, the
/// adversary's observation and mask), then each agent's whole reward as
/// `Rewards::honest` computes it, the adversary's, and the placement.
#[pyfunction]
#[pyo3(signature = (config, set, seed, honest, adversary))]
fn _engine_episode<'py>(
    py: Python<'py>,
    config: &str,
    set: Vec<String>,
    seed: u64,
    honest: Vec<Vec<u8>>,
    adversary: Vec<Vec<u8>>,
) -> PyResult<Bound<'py, PyDict>> {
    let res = load(config, &set)?;
    let spec = res.spec.clone();
    let (n, a) = (spec.n(), spec.byz_action_len());
    let mut env = BatchEnv::new(spec.clone(), 1);
    env.reset(&mut ChaCha8Rng::seed_from_u64(seed));
    let rounds = pyo3::types::PyList::empty(py);
    let mut r = 0;
    while !env.done() {
        let round = PyDict::new(py);
        let acting: Vec<usize> = bits(env.acting(0)).collect();
        let mut obs = vec![];
        for &i in &acting {
            let mut o = vec![0.0f32; obs_size(&spec)];
            env.encode_honest(0, i, &mut o);
            obs.push(o);
        }
        let mut bobs = vec![0.0f32; byz_obs_size(&spec)];
        env.encode_byzantine(0, &mut bobs);
        let mut bmask = vec![0u8; a];
        env.byz_mask(0, &mut bmask);
        round.set_item("acting", acting)?;
        round.set_item("honest_obs", obs)?;
        round.set_item("honest_mask", env.honest_mask().to_vec())?;
        round.set_item("adversary_obs", bobs)?;
        round.set_item("adversary_mask", bmask)?;
        rounds.append(round)?;
        let h = honest.get(r).cloned().unwrap_or_else(|| vec![0; n]);
        let b = adversary.get(r).cloned().unwrap_or_else(|| vec![NONE; a]);
        if h.len() != n || b.len() != a {
            return Err(PyValueError::new_err(format!(
                "round {}: expected {n} honest actions and {a} adversary heads",
                r + 1
            )));
        }
        env.step(&h, &b);
        r += 1;
    }
    let (ep, out) = (env.episode(0), env.outcome(0));
    let rewards = &res.exp.rewards;
    let whole: Vec<(usize, f32)> = bits(ep.followers & envs::consensus::rules::all(n))
        .map(|i| (i, rewards.honest(&spec, ep, &out, i)))
        .collect();
    let d = PyDict::new(py);
    d.set_item("rounds", rounds)?;
    d.set_item("honest_rewards", whole)?;
    d.set_item("adversary_reward", rewards.byzantine(&spec, ep, &out))?;
    d.set_item("faulty", bits(ep.byzantine).collect::<Vec<usize>>())?;
    d.set_item("honest_wins", out.honest_wins())?;
    Ok(d)
}

/// `selfplay FILE --set ... --out OUT`: runs an experiment of any game
/// into the folder `out` (created; refused if it holds an earlier run), as
/// the CLI does, quietly. Its checkpoints (`honest.safetensors`, ...) and
/// `metrics.csv` are written there.
#[pyfunction]
#[pyo3(signature = (config, out, set = Vec::new()))]
fn _run(py: Python<'_>, config: &str, out: &str, set: Vec<String>) -> PyResult<()> {
    let job = selfplay::games::load_job(Path::new(config), &set)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let flags = selfplay::folder::RunFlags {
        out: Some(out.into()),
        seed: None,
        sets: vec![],
        quiet: true,
        overwrite: false,
    };
    py.detach(|| selfplay::games::run_in_folder(&*job, &flags, false))
        .map_err(PyRuntimeError::new_err)
}

#[pymodule]
fn _selfplay(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ConsensusBatch>()?;
    m.add_class::<sampling::SlushBatch>()?;
    m.add_class::<broadcast::BroadcastBatch>()?;
    m.add_function(wrap_pyfunction!(_game_of, m)?)?;
    m.add_function(wrap_pyfunction!(sampling::_slush_engine_episode, m)?)?;
    m.add_function(wrap_pyfunction!(broadcast::_broadcast_engine_episode, m)?)?;
    m.add_function(wrap_pyfunction!(_engine_episode, m)?)?;
    m.add_function(wrap_pyfunction!(verify::_verify, m)?)?;
    m.add_function(wrap_pyfunction!(verify::_decision_table, m)?)?;
    m.add_function(wrap_pyfunction!(verify::_verify_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(verify::_verify_slush, m)?)?;
    m.add_function(wrap_pyfunction!(verify::_verify_slush_callable, m)?)?;
    m.add_function(wrap_pyfunction!(verify::_verify_broadcast, m)?)?;
    m.add_function(wrap_pyfunction!(verify::_verify_broadcast_callable, m)?)?;
    m.add_function(wrap_pyfunction!(_run, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_engine_rate, m)?)?;
    Ok(())
}
