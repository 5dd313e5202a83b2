//! Asynchronous reliable broadcast (`game = "reliable_broadcast"`) from
//! Python: `envs::broadcast::play::Batch` behind numpy arrays, read from an
//! experiment file as `selfplay FILE --set ...` reads and checks it
//! (`RbJob::new`). Both teams learn in this game, so Python plays both.
//!
//! An episode moves in turns (`envs::broadcast::play`): while some correct
//! agent has a view it has not acted on (*pending*), those agents act, each
//! once, on their views (a step of the honest team); otherwise the
//! adversary (the Byzantine agents and the scheduler) chooses its next
//! move one level at a time (what, the recipient's base-3 digits, the
//! message's kind, its value: a step each), or stops in a quiescent
//! state. Once no move is left the episode ends. This is the order in
//! which the runner's `games::broadcast::play::play` plays one episode.

use crate::experiment;
use envs::broadcast::play::{self, Batch, Choice, Reading, HONEST_HEADS};
use envs::broadcast::RbSpec;
use envs::consensus::Switch;
use numpy::ndarray::{Array1, Array2, Array3, Array4};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray3};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use selfplay::games::broadcast::game::RbJob;
use selfplay::games::broadcast::play as rb_play;

/// The honest classes of head `h` allowed by `mask`, `class` kept if
/// legal, else none ([`play::NONE`], always legal).
fn legal_or_none(mask: u8, class: u8) -> u32 {
    match class < 3 && mask >> class & 1 == 1 {
        true => class as u32,
        false => play::NONE,
    }
}

/// Reads and checks a reliable-broadcast experiment.
fn job(config: &str, set: &[String]) -> PyResult<RbJob> {
    let exp = experiment(config, set, "reliable_broadcast")?;
    RbJob::new(exp)
        .map_err(|e| PyValueError::new_err(format!("{config} (game reliable_broadcast): {e}")))
}

/// The first episodes of a batch: instances drawn as a training batch of
/// the runner draws them (`games::broadcast::play::starts`, nothing
/// replayed): the first `rb.faulty_sender_share` of them (rounded) among
/// the instances with a faulty sender, the rest among all.
fn new_batch(job: &RbJob, len: usize, rng: &mut ChaCha8Rng) -> Batch {
    let starts = rb_play::starts(&job.spec, &[], 0, len, job.rb.faulty_sender_share, rng);
    Batch::new(job.spec, starts)
}

/// The observation and masks agent `a` of episode `e` acts on, in the
/// network's coding (`play::honest_inputs`): every row's, one after the
/// other (`obs` holds `play::honest_rows` observations, `masks` that many
/// rows of [`HONEST_HEADS`] heads); whether it was turned.
fn honest_input(
    b: &Batch,
    reading: Reading,
    e: usize,
    a: usize,
    obs: &mut [f32],
    masks: &mut [u8],
) -> bool {
    let view = b.view(e, a);
    play::honest_inputs(&b.spec, &view, reading, obs, masks)
}

/// Width of an honest agent's observation: all its rows' observations
/// (`play::honest_rows` of `play::honest_obs_size` each).
fn honest_width(spec: &RbSpec, reading: Reading) -> usize {
    play::honest_rows(reading) * play::honest_obs_size(spec, reading)
}

/// Heads of an honest agent's action: [`HONEST_HEADS`] per row.
fn honest_heads(reading: Reading) -> usize {
    play::honest_rows(reading) * HONEST_HEADS
}

/// `num_envs` episodes of reliable broadcast, stepped together in Rust.
///
/// Arrays are indexed by episode, then by agent id `0..n`. An honest
/// agent's action has four heads, INIT, ECHO, READY and deliver, each `0`,
/// `1` or `2` (none), per row of the honest network: one row, or under
/// `rb.per_value` two, value 0's then value 1's, each seeing that value's
/// evidence alone and saying whether to send INIT v, ECHO v, READY v and
/// deliver v (class 0; class 1 is always masked), the rows joined into one
/// decision as the runner joins them (`play::decision_of`). The
/// observation is the rows' observations one after the other
/// (`honest_rows * row_size` wide), the heads likewise (`honest_heads =
/// honest_rows * 4`). The adversary's is one class `0..3` of the level it
/// is choosing. In each episode either the honest team or the adversary
/// moves (`observe()["adversary_turn"]`); a step reads the honest actions
/// of the episodes where the honest team moves and the adversary's of the
/// others. A class outside its mask is taken as none for an honest head,
/// and as the lowest legal class for the adversary.
#[pyclass(unsendable, module = "selfplay._selfplay")]
pub struct BroadcastBatch {
    job: RbJob,
    spec: RbSpec,
    reading: Reading,
    len: usize,
    batch: Batch,
    rng: ChaCha8Rng,
    /// Per episode: the adversary's move being chosen.
    choices: Vec<Choice>,
    over: Vec<bool>,
    started: bool,
}

impl BroadcastBatch {
    /// Ends episode `e` when the adversary is to move and has no move left
    /// (as the runner checks at the start of each adversary move).
    fn settle(&mut self, e: usize) {
        let ep = &self.batch.episodes[e];
        if !ep.done && ep.pending == 0 && self.choices[e].classes.is_empty() {
            self.batch.end_if_stuck(e);
        }
    }

    fn check_started(&self) -> PyResult<()> {
        match self.started {
            true => Ok(()),
            false => Err(PyRuntimeError::new_err("call reset() first")),
        }
    }

    /// What the adversary (and each honest agent) earns in episode `e`.
    fn pay(&self, e: usize) -> (f32, Vec<(usize, f32)>) {
        let lost = rb_play::loss(&self.batch, e, self.job.rb.pay_per_property);
        let ep = &self.batch.episodes[e];
        let cost = self.job.rb.message_cost as f32;
        let honest = (0..self.spec.n)
            .filter(|&a| !ep.inst.is_byzantine(&self.spec, a))
            .map(|a| (a, -lost - cost * ep.state[a].sent.count_ones() as f32))
            .collect();
        (lost, honest)
    }
}

#[pymethods]
impl BroadcastBatch {
    /// `BroadcastBatch(config, set=[], num_envs=1)`: the experiment file
    /// `config` (`game = "reliable_broadcast"`) with `key.path=value`
    /// overrides.
    #[new]
    #[pyo3(signature = (config, set = Vec::new(), num_envs = 1))]
    fn new(config: &str, set: Vec<String>, num_envs: usize) -> PyResult<BroadcastBatch> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1"));
        }
        let job = job(config, &set)?;
        let mut rng = ChaCha8Rng::seed_from_u64(job.exp.seed);
        let batch = new_batch(&job, num_envs, &mut rng);
        Ok(BroadcastBatch {
            spec: job.spec,
            reading: job.reading(),
            rng: ChaCha8Rng::seed_from_u64(job.exp.seed),
            len: num_envs,
            batch,
            choices: vec![Choice::default(); num_envs],
            over: vec![true; num_envs],
            started: false,
            job,
        })
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.len
    }

    #[getter]
    fn n(&self) -> usize {
        self.spec.n
    }

    #[getter]
    fn f(&self) -> usize {
        self.spec.f
    }

    /// `"byzantine"` or `"crash"`.
    #[getter]
    fn faults(&self) -> String {
        self.job.exp.env.faults.name().to_string()
    }

    /// Width of an honest agent's observation: `honest_rows * row_size`
    /// (`rb.view` and `rb.per_value` decide it).
    #[getter]
    fn obs_size(&self) -> usize {
        honest_width(&self.spec, self.reading)
    }

    /// Width of one row of an honest agent's observation, the input of
    /// the honest network (`play::honest_obs_size`).
    #[getter]
    fn row_size(&self) -> usize {
        play::honest_obs_size(&self.spec, self.reading)
    }

    /// Rows of the honest network per decision: 1, or 2 under
    /// `rb.per_value` (value 0's row, then value 1's).
    #[getter]
    fn honest_rows(&self) -> usize {
        play::honest_rows(self.reading)
    }

    /// Heads of an honest action: INIT, ECHO, READY, deliver, per row
    /// (`honest_rows * 4`).
    #[getter]
    fn honest_heads(&self) -> usize {
        honest_heads(self.reading)
    }

    #[getter]
    fn adversary_obs_size(&self) -> usize {
        play::adversary_obs_size(&self.spec)
    }

    /// Levels of one adversary move: what, the recipient's digits, kind, value.
    #[getter]
    fn adversary_levels(&self) -> usize {
        play::adversary_levels(&self.spec)
    }

    /// The most adversary moves of any episode (`play::max_moves`).
    #[getter]
    fn max_moves(&self) -> usize {
        play::max_moves(&self.spec)
    }

    #[getter]
    fn describe(&self) -> String {
        format!(
            "reliable_broadcast n={} f={} faults={}",
            self.spec.n,
            self.spec.f,
            self.job.exp.env.faults.name()
        )
    }

    /// New episodes, their instances drawn as the runner draws a training
    /// batch's; with `seed`, the generator (ChaCha8) restarts from it; at
    /// first it is seeded with the experiment's `seed`.
    #[pyo3(signature = (seed = None))]
    fn reset(&mut self, seed: Option<u64>) {
        if let Some(s) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(s);
        }
        self.batch = new_batch(&self.job, self.len, &mut self.rng);
        self.choices = vec![Choice::default(); self.len];
        for e in 0..self.len {
            self.settle(e);
        }
        self.over = self.batch.episodes.iter().map(|ep| ep.done).collect();
        self.started = true;
    }

    /// One turn in every live episode: where the honest team moves, every
    /// pending agent acts on `honest[e, a]` (uint8 `(num_envs, n,
    /// honest_heads)`);
    /// where the adversary moves, it chooses `adversary[e]` (uint8
    /// `(num_envs,)`) at its current level. Returns `(honest_rewards
    /// (num_envs, n), adversary_rewards (num_envs,), over (num_envs,))`:
    /// paid at an episode's end as the runner pays (`rb.pay_per_property`,
    /// `rb.message_cost`), nothing before.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        honest: PyReadonlyArray3<'py, u8>,
        adversary: PyReadonlyArray1<'py, u8>,
    ) -> PyResult<(
        Bound<'py, numpy::PyArray2<f32>>,
        Bound<'py, numpy::PyArray1<f32>>,
        Bound<'py, numpy::PyArray1<bool>>,
    )> {
        self.check_started()?;
        if self.batch.done() {
            return Err(PyRuntimeError::new_err(
                "every episode is over: call reset()",
            ));
        }
        let (len, n) = (self.len, self.spec.n);
        let heads = honest_heads(self.reading);
        let (h, b) = (honest.as_array(), adversary.as_array());
        if h.shape() != [len, n, heads] {
            return Err(PyValueError::new_err(format!(
                "honest actions: expected shape ({len}, {n}, {heads}), got {:?}",
                h.shape()
            )));
        }
        if b.shape() != [len] {
            return Err(PyValueError::new_err(format!(
                "adversary actions: expected shape ({len},), got {:?}",
                b.shape()
            )));
        }
        let mut obs = vec![0.0f32; honest_width(&self.spec, self.reading)];
        let mut masks = vec![0u8; heads];
        let mut hr = Array2::<f32>::zeros((len, n));
        let mut ar = Array1::<f32>::zeros(len);
        for e in 0..len {
            let ep = &self.batch.episodes[e];
            if ep.done {
                continue;
            }
            if ep.pending != 0 {
                // Every pending agent acts on the view it has now, as the
                // runner's honest turn reads them all before deciding.
                let who: Vec<usize> = (0..n).filter(|&a| ep.pending >> a & 1 == 1).collect();
                let mut decisions = Vec::with_capacity(who.len());
                for &a in &who {
                    let turned =
                        honest_input(&self.batch, self.reading, e, a, &mut obs, &mut masks);
                    let acts: Vec<u32> = (0..heads)
                        .map(|k| legal_or_none(masks[k], h[[e, a, k]]))
                        .collect();
                    decisions.push(play::decision_of(self.reading, &acts, turned));
                }
                for (&a, d) in who.iter().zip(decisions) {
                    self.batch.decide(e, a, d);
                }
            } else {
                let mask = self.batch.adversary_mask(e, &self.choices[e]);
                if mask == 0 {
                    // Never met: a move with this prefix exists (settle).
                    return Err(PyRuntimeError::new_err(format!(
                        "episode {e}: the adversary has no legal class at level {}",
                        self.choices[e].classes.len()
                    )));
                }
                let c = b[e];
                let c = match c < 3 && mask >> c & 1 == 1 {
                    true => c as u32,
                    false => mask.trailing_zeros(),
                };
                self.choices[e].classes.push(c);
                if self.batch.chosen(&self.choices[e]) {
                    let choice = std::mem::take(&mut self.choices[e]);
                    match self.batch.adversary_step(e, &choice) {
                        Some(step) => self.batch.play(e, step),
                        None => self.batch.stop(e),
                    }
                }
            }
            self.settle(e);
            if self.batch.episodes[e].done && !self.over[e] {
                self.over[e] = true;
                let (lost, paid) = self.pay(e);
                ar[e] = lost;
                for (a, r) in paid {
                    hr[[e, a]] = r;
                }
            }
        }
        Ok((
            hr.into_pyarray(py),
            ar.into_pyarray(py),
            Array1::from(self.over.clone()).into_pyarray(py),
        ))
    }

    /// What every side sees now, as a dict of arrays: `honest_obs` float32
    /// `(num_envs, n, obs_size)` (each correct agent's view as the honest
    /// network reads it, `rb.view`, `rb.value_symmetric` and `rb.per_value`
    /// included, its rows one after the other; zeros for Byzantine ids),
    /// `honest_mask` bool `(num_envs, n, honest_heads, 3)` (per head; all
    /// false unless the agent is pending and the honest team
    /// moves), `acting` bool `(num_envs, n)`, `honest` bool `(num_envs, n)`
    /// (the agents running the protocol: not Byzantine), `adversary_obs`
    /// float32 `(num_envs, adversary_obs_size)` (its observation at the
    /// level it chooses next), `adversary_mask` bool `(num_envs, 3)` (all
    /// false unless it moves), `adversary_turn` and `over` bool
    /// `(num_envs,)`.
    fn observe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.check_started()?;
        let (len, n) = (self.len, self.spec.n);
        let (d, bd, heads) = (
            honest_width(&self.spec, self.reading),
            play::adversary_obs_size(&self.spec),
            honest_heads(self.reading),
        );
        let mut hobs = Array3::<f32>::zeros((len, n, d));
        let mut hmask = Array4::<bool>::from_elem((len, n, heads, 3), false);
        let mut acting = Array2::<bool>::from_elem((len, n), false);
        let mut honest = Array2::<bool>::from_elem((len, n), false);
        let mut bobs = Array2::<f32>::zeros((len, bd));
        let mut bmask = Array2::<bool>::from_elem((len, 3), false);
        let mut turn = Array1::<bool>::from_elem(len, false);
        let mut masks = vec![0u8; heads];
        for e in 0..len {
            let ep = &self.batch.episodes[e];
            for a in (0..n).filter(|&a| !ep.inst.is_byzantine(&self.spec, a)) {
                honest[[e, a]] = true;
                let row = hobs.slice_mut(numpy::ndarray::s![e, a, ..]);
                let out = row.into_slice().expect("contiguous");
                honest_input(&self.batch, self.reading, e, a, out, &mut masks);
                if !ep.done && ep.pending >> a & 1 == 1 {
                    acting[[e, a]] = true;
                    for (k, m) in masks.iter().enumerate() {
                        for v in 0..3 {
                            hmask[[e, a, k, v]] = m >> v & 1 == 1;
                        }
                    }
                }
            }
            let row = bobs.slice_mut(numpy::ndarray::s![e, ..]);
            self.batch
                .encode_adversary(e, &self.choices[e], row.into_slice().expect("contiguous"));
            if !ep.done && ep.pending == 0 {
                turn[e] = true;
                let m = self.batch.adversary_mask(e, &self.choices[e]);
                for v in 0..3 {
                    bmask[[e, v]] = m >> v & 1 == 1;
                }
            }
        }
        let out = PyDict::new(py);
        out.set_item("honest_obs", hobs.into_pyarray(py))?;
        out.set_item("honest_mask", hmask.into_pyarray(py))?;
        out.set_item("acting", acting.into_pyarray(py))?;
        out.set_item("honest", honest.into_pyarray(py))?;
        out.set_item("adversary_obs", bobs.into_pyarray(py))?;
        out.set_item("adversary_mask", bmask.into_pyarray(py))?;
        out.set_item("adversary_turn", turn.into_pyarray(py))?;
        out.set_item("over", Array1::from(self.over.clone()).into_pyarray(py))?;
        Ok(out)
    }

    /// How each episode came out so far: `broken` uint8 `(num_envs,)`, a bit
    /// per property broken (validity, agreement, integrity, totality, in
    /// `envs::broadcast::game::PROPERTIES`' order), `moves` (the
    /// adversary's) and `honest_messages` (sent by correct agents).
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.check_started()?;
        let eps = &self.batch.episodes;
        let out = PyDict::new(py);
        let broken: Vec<u8> = (0..self.len).map(|e| self.batch.broken(e)).collect();
        out.set_item("broken", Array1::from(broken).into_pyarray(py))?;
        let moves: Vec<u32> = eps.iter().map(|ep| ep.moves as u32).collect();
        out.set_item("moves", Array1::from(moves).into_pyarray(py))?;
        let sent: Vec<u32> = eps.iter().map(|ep| ep.honest_sends).collect();
        out.set_item("honest_messages", Array1::from(sent).into_pyarray(py))?;
        let names: Vec<&str> = envs::broadcast::game::PROPERTIES
            .iter()
            .map(|p| p.name)
            .collect();
        out.set_item("properties", names)?;
        Ok(out)
    }
}

/// For the tests only: one episode played straight through `Batch` (one
/// episode, its instance drawn as `BroadcastBatch.reset(seed)` draws it),
/// as the runner's `play` loop plays it: while an agent is pending, the
/// honest turn (`honest` gives, turn by turn, each pending agent's
/// classes by id: four per row of the honest network, the rows joined by
/// `play::decision_of`); else the adversary's move, a level at a time (`adversary`
/// gives its classes in order). Returns the turns as the engine showed
/// them, then the pay and the instance.
#[pyfunction]
#[pyo3(signature = (config, set, seed, honest, adversary))]
pub fn _broadcast_engine_episode<'py>(
    py: Python<'py>,
    config: &str,
    set: Vec<String>,
    seed: u64,
    honest: Vec<Vec<(usize, Vec<u32>)>>,
    adversary: Vec<u32>,
) -> PyResult<Bound<'py, PyDict>> {
    let job = job(config, &set)?;
    let (spec, reading) = (job.spec, job.reading());
    let mut b = new_batch(&job, 1, &mut ChaCha8Rng::seed_from_u64(seed));
    let (d, bd, heads) = (
        honest_width(&spec, reading),
        play::adversary_obs_size(&spec),
        honest_heads(reading),
    );
    let turns = pyo3::types::PyList::empty(py);
    let (mut hi, mut bi) = (honest.iter(), adversary.iter());
    while !b.done() {
        let turn = PyDict::new(py);
        let who = b.pending();
        if !who.is_empty() {
            let given = hi
                .next()
                .ok_or_else(|| PyValueError::new_err("too few honest turns given"))?;
            let (mut seen, mut masks, mut ds) = (vec![], vec![], vec![]);
            for &(e, a) in &who {
                let (mut o, mut m) = (vec![0.0f32; d], vec![0u8; heads]);
                let turned = honest_input(&b, reading, e, a, &mut o, &mut m);
                let acts = given
                    .iter()
                    .find(|(id, _)| *id == a)
                    .map(|(_, acts)| acts.clone())
                    .ok_or_else(|| PyValueError::new_err(format!("no action for agent {a}")))?;
                if acts.len() != heads {
                    return Err(PyValueError::new_err(format!(
                        "agent {a}: {} classes given, not {heads}",
                        acts.len()
                    )));
                }
                ds.push((a, play::decision_of(reading, &acts, turned)));
                seen.push((a, o));
                masks.push(m);
            }
            for (a, dec) in ds {
                b.decide(0, a, dec);
            }
            turn.set_item("honest_obs", seen)?;
            turn.set_item("honest_mask", masks)?;
            turns.append(turn)?;
            continue;
        }
        if b.end_if_stuck(0) {
            break;
        }
        let mut choice = Choice::default();
        while !b.chosen(&choice) {
            let mut o = vec![0.0f32; bd];
            b.encode_adversary(0, &choice, &mut o);
            let level = PyDict::new(py);
            level.set_item("adversary_obs", o)?;
            level.set_item("adversary_mask", b.adversary_mask(0, &choice))?;
            turns.append(level)?;
            let c = *bi
                .next()
                .ok_or_else(|| PyValueError::new_err("too few adversary classes given"))?;
            choice.classes.push(c);
        }
        match b.adversary_step(0, &choice) {
            Some(step) => b.play(0, step),
            None => b.stop(0),
        }
    }
    let lost = rb_play::loss(&b, 0, job.rb.pay_per_property);
    let ep = &b.episodes[0];
    let paid: Vec<(usize, f32)> = (0..spec.n)
        .filter(|&a| !ep.inst.is_byzantine(&spec, a))
        .map(|a| {
            let sent = ep.state[a].sent.count_ones() as f32;
            (a, -lost - job.rb.message_cost as f32 * sent)
        })
        .collect();
    let out = PyDict::new(py);
    out.set_item("turns", turns)?;
    out.set_item("honest_rewards", paid)?;
    out.set_item("adversary_reward", lost)?;
    out.set_item("broken", b.broken(0))?;
    out.set_item(
        "byzantine",
        (0..spec.n)
            .filter(|&a| ep.inst.is_byzantine(&spec, a))
            .collect::<Vec<_>>(),
    )?;
    Ok(out)
}
