//! The exact verifier from Python: `selfplay verify`'s search
//! (`envs::consensus::verify`) on the experiment's honest protocol, a
//! scripted one by name, or a Python callable over the honest one-hot
//! observation (a table is a callable: `selfplay/verify.py`).

use envs::consensus::view::{self, obs_size};
use envs::consensus::{verify as search, Action, EnvSpec, Limits, Protocol, View};
use numpy::ndarray::Array1;
use numpy::IntoPyArray;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use selfplay::games::consensus::config::HonestTeam;
use selfplay::games::consensus::explain::{from_checkpoint, reachable, with_view};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A view as the verifier meets it: round, input, what was received.
type Key = (u8, u8, Vec<u8>);

/// A Python callable `obs -> action` (0 send, 1 commit 0, 2 commit 1) as
/// an honest protocol. Each distinct view calls it once; the first error
/// it raises (or a value that is no action) is kept and raised after the
/// search, whose verdict is then void.
struct Callable {
    spec: Arc<EnvSpec>,
    func: Py<PyAny>,
    memo: Mutex<HashMap<Key, Action>>,
    error: Mutex<Option<PyErr>>,
}

impl Callable {
    fn call(&self, view: &View) -> PyResult<Action> {
        let mut obs = vec![0.0f32; obs_size(&self.spec)];
        view::encode(view, &mut obs);
        Python::attach(|py| {
            let got = self
                .func
                .bind(py)
                .call1((Array1::from(obs).into_pyarray(py),))?;
            let a: i64 = got.extract().map_err(|_| {
                PyValueError::new_err(format!(
                    "the protocol returned {got}, not an action (0 send, 1 commit 0, 2 commit 1)"
                ))
            })?;
            match a {
                0..=2 => Ok(Action::from_index(a as u8)),
                _ => Err(PyValueError::new_err(format!(
                    "the protocol returned {a}, not an action (0 send, 1 commit 0, 2 commit 1)"
                ))),
            }
        })
    }
}

impl Protocol for Callable {
    fn name(&self) -> String {
        "python".into()
    }

    fn rounds(&self) -> u8 {
        self.spec.rounds()
    }

    fn act(&self, view: &View) -> Action {
        let key = (view.round, view.input, view.received().to_vec());
        if let Some(&a) = self.memo.lock().expect("not poisoned").get(&key) {
            return a;
        }
        let a = match self.call(view) {
            Ok(a) => a,
            Err(e) => {
                self.error.lock().expect("not poisoned").get_or_insert(e);
                Action::Send
            }
        };
        self.memo.lock().expect("not poisoned").insert(key, a);
        a
    }
}

/// A game and the protocol to search in it.
struct Game {
    spec: Arc<EnvSpec>,
    protocol: Arc<dyn Protocol>,
    /// The protocol, when it is a Python callable.
    callable: Option<Arc<Callable>>,
}

/// The game and the protocol to search: `protocol` a callable, else the
/// experiment's own honest protocol (a scripted name is an override the
/// Python side adds).
fn game(
    py: Python<'_>,
    config: &str,
    set: &[String],
    protocol: Option<Py<PyAny>>,
) -> PyResult<Game> {
    let res = crate::load(config, set)?;
    let spec = res.spec.clone();
    if let Some(func) = protocol {
        if !func.bind(py).is_callable() {
            return Err(PyValueError::new_err(
                "protocol: give a name, a table (dict) or a callable obs -> action",
            ));
        }
        let c = Arc::new(Callable {
            spec: spec.clone(),
            func,
            memo: Mutex::new(HashMap::new()),
            error: Mutex::new(None),
        });
        return Ok(Game {
            spec,
            protocol: c.clone(),
            callable: Some(c),
        });
    }
    match res.honest {
        HonestTeam::Protocol(protocol) => Ok(Game {
            spec,
            protocol,
            callable: None,
        }),
        HonestTeam::Learned(_) => Err(PyValueError::new_err(format!(
            "{config}: the honest team learns (honest.kind = \"learned\"): give the protocol \
             to verify (a name, a table or a callable)"
        ))),
    }
}

/// The error the callable raised during the search, if it raised one.
fn raised(c: &Option<Arc<Callable>>) -> PyResult<()> {
    match c
        .as_ref()
        .and_then(|c| c.error.lock().expect("not poisoned").take())
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `selfplay verify`'s search on an experiment's game: the report as JSON
/// (what `selfplay verify --json` prints) and the counterexample as the
/// CLI prints it.
#[pyfunction]
#[pyo3(signature = (config, set, protocol = None, max_work = None))]
pub fn _verify(
    py: Python<'_>,
    config: &str,
    set: Vec<String>,
    protocol: Option<Py<PyAny>>,
    max_work: Option<f64>,
) -> PyResult<(String, Option<String>)> {
    let Game {
        spec,
        protocol: p,
        callable,
    } = game(py, config, &set, protocol)?;
    let limits = Limits {
        max_work: max_work.unwrap_or(Limits::default().max_work),
    };
    // The search runs on rayon's threads, which take the GIL to call Python.
    let report = py.detach(|| search(&spec, &*p, &limits));
    raised(&callable)?;
    let report = report.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let text = report.counterexample.as_ref().map(|c| c.render());
    let json =
        serde_json::to_string(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((json, text))
}

/// Every view the exhaustive search reaches with its protocol's action, as
/// `selfplay explain` lists them: `{observation bytes (one-hot as uint8):
/// action}`.
#[pyfunction]
#[pyo3(signature = (config, set, protocol = None, max_work = None))]
pub fn _decision_table<'py>(
    py: Python<'py>,
    config: &str,
    set: Vec<String>,
    protocol: Option<Py<PyAny>>,
    max_work: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let Game {
        spec,
        protocol: p,
        callable,
    } = game(py, config, &set, protocol)?;
    let limits = Limits {
        max_work: max_work.unwrap_or(Limits::default().max_work),
    };
    let found = py.detach(|| reachable(&spec, &*p, &limits));
    raised(&callable)?;
    let (_, seen) = found.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let table = PyDict::new(py);
    let mut obs = vec![0.0f32; obs_size(&spec)];
    for (key, action) in &seen {
        with_view(&spec, key, |v| view::encode(v, &mut obs));
        let bytes: Vec<u8> = obs.iter().map(|&x| x as u8).collect();
        table.set_item(pyo3::types::PyBytes::new(py, &bytes), *action as u8)?;
    }
    Ok(table)
}

/// `selfplay verify --checkpoint PATH` in the consensus game: the greedy
/// protocol of an honest checkpoint, searched in the game it was trained
/// in (its config's `[env]` and its rounds). The report as JSON and the
/// counterexample as the CLI prints them.
#[pyfunction]
#[pyo3(signature = (checkpoint, max_work = None))]
pub fn _verify_checkpoint(
    py: Python<'_>,
    checkpoint: &str,
    max_work: Option<f64>,
) -> PyResult<(String, Option<String>)> {
    let (spec, greedy) =
        from_checkpoint(std::path::Path::new(checkpoint)).map_err(PyValueError::new_err)?;
    let limits = Limits {
        max_work: max_work.unwrap_or(Limits::default().max_work),
    };
    let report = py
        .detach(|| search(&spec, &greedy, &limits))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let text = report.counterexample.as_ref().map(|c| c.render());
    let json =
        serde_json::to_string(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((json, text))
}

/// `selfplay verify --game slush --json`: the exact optimal adversary of the
/// sampling game against a scripted protocol (`slush`, `snowflake`, a
/// trivial one) or an honest checkpoint's greedy play, with the CLI's flags
/// as keywords. The report as JSON, as the CLI prints it.
#[pyfunction]
#[pyo3(signature = (n, f, protocol = None, checkpoint = None, rounds = None, k = None,
    alpha = None, beta = None, ones = None, blind = false, max_work = None))]
#[allow(clippy::too_many_arguments)]
pub fn _verify_slush(
    py: Python<'_>,
    n: usize,
    f: usize,
    protocol: Option<String>,
    checkpoint: Option<std::path::PathBuf>,
    rounds: Option<u8>,
    k: Option<usize>,
    alpha: Option<usize>,
    beta: Option<usize>,
    ones: Option<usize>,
    blind: bool,
    max_work: Option<f64>,
) -> PyResult<String> {
    use selfplay::games::sampling::verify::{solve, Request, SlushFlags};
    let flags = SlushFlags {
        k,
        alpha,
        beta,
        ones,
        blind,
    };
    let req = Request {
        protocol: protocol.as_deref(),
        checkpoint: checkpoint.as_deref(),
        n,
        f,
        rounds,
        flags: &flags,
        json: true,
        max_work: max_work.unwrap_or(Limits::default().max_work),
    };
    let report = py
        .detach(|| solve(&req))
        .map_err(|e| PyValueError::new_err(format!("game slush: {e}")))?;
    serde_json::to_string(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// `selfplay verify --game reliable_broadcast --json`: the exhaustive search
/// of reliable broadcast against a scripted protocol (`bracha`, ...) or an
/// honest checkpoint's greedy play, with the CLI's flags as keywords. The
/// report as JSON (with `semantics`, as the CLI prints it) and the
/// counterexample as the CLI renders it.
#[pyfunction]
#[pyo3(signature = (protocol = None, checkpoint = None, n = None, f = None, faults = None,
    max_states = None, semantics = None, first_violation = false))]
#[allow(clippy::too_many_arguments)]
pub fn _verify_broadcast(
    py: Python<'_>,
    protocol: Option<String>,
    checkpoint: Option<std::path::PathBuf>,
    n: Option<usize>,
    f: Option<usize>,
    faults: Option<String>,
    max_states: Option<u64>,
    semantics: Option<String>,
    first_violation: bool,
) -> PyResult<(String, Option<String>)> {
    use selfplay::games::broadcast::verify::{parse_semantics, solve, RbFlags, Request};
    let semantics = semantics
        .map(|s| parse_semantics(&s).map_err(|e| format!("semantics = {s:?}: {e}")))
        .transpose()
        .map_err(PyValueError::new_err)?;
    let flags = RbFlags {
        max_states,
        semantics,
        first_violation,
        ..RbFlags::default()
    };
    let req = Request {
        protocol: protocol.as_deref(),
        checkpoint: checkpoint.as_deref(),
        n,
        f,
        faults: faults.as_deref(),
        json: true,
        flags: &flags,
    };
    let (spec, report) = py
        .detach(|| solve(&req))
        .map_err(|e| PyValueError::new_err(format!("game reliable_broadcast: {e}")))?;
    let mut v =
        serde_json::to_value(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    v["semantics"] = spec.semantics.name().into();
    Ok((
        v.to_string(),
        report.counterexample.as_ref().map(|c| c.render()),
    ))
}

/// `verify_slush` on a Python callable: the sampling game's exact optimal
/// adversary against the stateless protocol the callable gives, read once
/// per view (round, own colour, counts) from the one-hot observation the
/// environment shows (`SlushEnv::encode`), as a learned checkpoint is read
/// (`games::sampling::verify::greedy_table`). The report as the CLI's
/// `--json` gives it, the protocol named `python`.
#[pyfunction]
#[pyo3(signature = (n, f, func, rounds = None, k = None, ones = None, blind = false,
    max_work = None))]
#[allow(clippy::too_many_arguments)]
pub fn _verify_slush_callable(
    py: Python<'_>,
    n: usize,
    f: usize,
    func: Py<PyAny>,
    rounds: Option<u8>,
    k: Option<usize>,
    ones: Option<usize>,
    blind: bool,
    max_work: Option<f64>,
) -> PyResult<String> {
    use envs::sampling::exact::{Rule, Score, Sight, Solver, Table};
    use envs::sampling::{SlushConfig, SlushSpec, COMMIT};
    use selfplay::games::sampling::verify::{encode, SlushReport, Split};
    let d = SlushConfig::default();
    let env = envs::consensus::EnvConfig {
        n,
        f,
        ones,
        ..envs::consensus::EnvConfig::default()
    };
    let cfg = SlushConfig {
        k: k.unwrap_or(d.k),
        rounds: rounds.unwrap_or(d.rounds),
        ..d
    };
    let spec = SlushSpec::new(&env, &cfg).map_err(|e| {
        PyValueError::new_err(format!(
            "game slush: {} = {}: {}",
            e.key.rsplit('.').next().unwrap_or(&e.key),
            e.value,
            e.reason
        ))
    })?;
    let mut error: Option<PyErr> = None;
    let table = Table::new(spec.k, spec.rounds, |round, colour, counts| {
        if error.is_some() {
            return COMMIT;
        }
        let obs = encode(spec.k, spec.rounds, colour, round, counts);
        let got = func
            .bind(py)
            .call1((Array1::from(obs).into_pyarray(py),))
            .and_then(|a| a.extract::<i64>());
        match got {
            Ok(a @ 0..=1) if round < spec.rounds => a as u8,
            Ok(2) => COMMIT,
            Ok(a) => {
                error = Some(PyValueError::new_err(format!(
                    "the protocol returned {a} in round {round}, not an action (0 hold 0, \
                     1 hold 1, 2 commit; only 2 in the last round, as the mask says)"
                )));
                COMMIT
            }
            Err(e) => {
                error = Some(e);
                COMMIT
            }
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    let mut solver = Solver::new(&spec, Rule::Table(table)).map_err(PyValueError::new_err)?;
    solver.max_work = max_work
        .unwrap_or(Limits::default().max_work)
        .min(u64::MAX as f64) as u64;
    if blind {
        solver.sight = Sight::Querier;
    }
    let split = |s: &mut Solver, ones: Option<usize>| {
        let [d, m, c] = Score::ALL.map(|x| match ones {
            Some(o) => s.score(x, o),
            None => s.uniform_score(x),
        });
        Split {
            ones: ones.unwrap_or(s.honest()),
            optimal_attack_rate: d,
            optimal_majority_attack_rate: m,
            optimal_correctness_attack_rate: c,
        }
    };
    let (top, splits) = py.detach(|| match ones {
        Some(o) => (split(&mut solver, Some(o)), vec![]),
        None => {
            let top = split(&mut solver, None);
            let all = (0..=solver.honest())
                .map(|o| split(&mut solver, Some(o)))
                .collect();
            (top, all)
        }
    });
    if solver.exceeded() {
        return Err(PyRuntimeError::new_err(
            "game slush: the exact search weighs more joint choices than max_work; raise it or \
             shrink n, k or rounds",
        ));
    }
    let report = SlushReport {
        game: "slush",
        protocol: "python",
        checkpoint: None,
        n: spec.n,
        f: spec.f,
        k: spec.k,
        alpha: None,
        beta: None,
        rounds: spec.rounds,
        ones,
        adversary_sees: if blind { "querier" } else { "samples" },
        optimal_attack_rate: top.optimal_attack_rate,
        optimal_majority_attack_rate: top.optimal_majority_attack_rate,
        optimal_correctness_attack_rate: top.optimal_correctness_attack_rate,
        splits,
        configurations: solver.evaluated,
    };
    serde_json::to_string(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// A Python callable as a reliable-broadcast protocol: from an honest
/// agent's observation as `broadcast_env` shows it in the raw-count view
/// (`play::encode_view`) to its four heads' classes (INIT, ECHO, READY,
/// deliver: 0, 1 or 2 none), a class outside the view's mask taken as none,
/// as the environment takes it. Each distinct observation and mask calls it
/// once; its first error is kept and raised after the search.
struct RbCallable {
    func: Py<PyAny>,
    memo: Mutex<HashMap<Vec<u8>, [u32; 4]>>,
    error: Mutex<Option<PyErr>>,
}

impl RbCallable {
    fn call(&self, obs: Vec<f32>) -> PyResult<Vec<i64>> {
        Python::attach(|py| {
            let got = self
                .func
                .bind(py)
                .call1((Array1::from(obs).into_pyarray(py),))?;
            let classes: Vec<i64> = got.extract().map_err(|_| {
                PyValueError::new_err(format!(
                    "the protocol returned {got}, not four classes (INIT, ECHO, READY, deliver: \
                     0, 1 or 2 none)"
                ))
            })?;
            if classes.len() != 4 || classes.iter().any(|c| !(0..=2).contains(c)) {
                return Err(PyValueError::new_err(format!(
                    "the protocol returned {classes:?}, not four classes of 0, 1 or 2"
                )));
            }
            Ok(classes)
        })
    }
}

impl envs::broadcast::RbProtocol for RbCallable {
    fn name(&self) -> String {
        "python".into()
    }

    fn act(
        &self,
        spec: &envs::broadcast::RbSpec,
        view: &envs::broadcast::View,
    ) -> envs::broadcast::Decision {
        use envs::broadcast::play::{self as rb, Reading};
        let mut obs = vec![0.0f32; rb::honest_obs_size(spec, Reading::default())];
        rb::encode_view(spec, view, &mut obs);
        let masks = rb::honest_masks(view);
        let key: Vec<u8> = obs.iter().map(|&x| x as u8).chain(masks).collect();
        let known = self.memo.lock().expect("not poisoned").get(&key).copied();
        let classes = match known {
            Some(c) => c,
            None => {
                let mut c = [rb::NONE; 4];
                match self.call(obs) {
                    Ok(got) => {
                        for (h, &x) in got.iter().enumerate() {
                            if masks[h] >> x & 1 == 1 {
                                c[h] = x as u32;
                            }
                        }
                    }
                    Err(e) => {
                        self.error.lock().expect("not poisoned").get_or_insert(e);
                    }
                }
                self.memo.lock().expect("not poisoned").insert(key, c);
                c
            }
        };
        rb::decision(&classes)
    }
}

/// `verify_broadcast` on a Python callable: reliable broadcast's exhaustive
/// search (every instance, delivery order and Byzantine injection) against
/// the protocol it gives, at `n`, `f`, `faults` as the CLI's flags name
/// them. The report as JSON (with `semantics`) and the counterexample.
#[pyfunction]
#[pyo3(signature = (func, n, f, faults = None, max_states = None, semantics = None))]
pub fn _verify_broadcast_callable(
    py: Python<'_>,
    func: Py<PyAny>,
    n: usize,
    f: usize,
    faults: Option<String>,
    max_states: Option<u64>,
    semantics: Option<String>,
) -> PyResult<(String, Option<String>)> {
    use selfplay::games::broadcast::verify::{limits_from_flag, parse_semantics, spec_from_flags};
    let err = |e: String| PyValueError::new_err(format!("game reliable_broadcast: {e}"));
    let semantics = semantics
        .map(|s| parse_semantics(&s).map_err(|e| format!("semantics = {s:?}: {e}")))
        .transpose()
        .map_err(err)?;
    let spec =
        spec_from_flags(n, f, faults.as_deref().unwrap_or("byzantine"), semantics).map_err(err)?;
    let limits = limits_from_flag(max_states);
    limits
        .check(&spec)
        .map_err(|why| err(format!("max_states {}: {why}", limits.max_states)))?;
    let p = RbCallable {
        func,
        memo: Mutex::new(HashMap::new()),
        error: Mutex::new(None),
    };
    let report = py.detach(|| envs::broadcast::verify(&spec, &p, &limits));
    if let Some(e) = p.error.lock().expect("not poisoned").take() {
        return Err(e);
    }
    let report = report.map_err(|e| err(e.to_string()))?;
    let mut v =
        serde_json::to_value(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    v["semantics"] = spec.semantics.name().into();
    Ok((
        v.to_string(),
        report.counterexample.as_ref().map(|c| c.render()),
    ))
}
