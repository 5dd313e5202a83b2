//! Experiment files: plain serde structs with defaults, unknown keys refused,
//! and a validation pass whose errors name the file and the key.

use agents::checkpoint::{self, Loaded};
use agents::{GreedyHonest, LearnConfig};
use envs::view::{byz_obs_size, obs_size};
use envs::Switch;
use envs::{adversaries, protocols, ConfigError, EnvConfig, EnvSpec, Faults, Protocol, Rewards};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An experiment file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Run name: results go to `results/<name>/`. Defaults to the file's stem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seed of every random stream in the run.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The game: `consensus` (message passing, GAME.md) or `slush` (Avalanche's sampling game).
    #[serde(default)]
    pub game: Game,
    /// The game.
    #[serde(default)]
    pub env: EnvConfig,
    /// The honest team.
    #[serde(default)]
    pub honest: HonestConfig,
    /// The Byzantine team.
    #[serde(default)]
    pub byzantine: ByzantineConfig,
    /// How long and how the learning teams train.
    #[serde(default)]
    pub train: TrainConfig,
    /// What to measure.
    #[serde(default)]
    pub eval: EvalConfig,
    /// Shaped rewards (never the reported win rate).
    #[serde(default)]
    pub rewards: Rewards,
    /// The sampling game's parameters (`game = "slush"`).
    #[serde(default)]
    pub slush: envs::slush::SlushConfig,
    /// `selfplay harden`: attack, verify, defend until verified.
    #[serde(default)]
    pub harden: HardenConfig,
    /// Runs of this experiment over seeds and a grid of keys (`selfplay sweep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepConfig>,
}

/// The `[harden]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HardenConfig {
    /// Attack-verify-defend iterations at most, per attempt.
    pub iterations: usize,
    /// Starts from the starting protocol: when one runs out of iterations
    /// unverified, the next begins afresh (new weights, pool and replays).
    pub attempts: usize,
    /// Training episodes per attacker (it stops early at the verifier's optimum).
    pub attack_episodes: u64,
    /// Honest retraining episodes per iteration.
    pub defend_episodes: u64,
    /// Replayed counterexamples per honest batch, as a share of `train.batch`.
    pub replay_fraction: f64,
    /// Behaviour-cloning passes that turn a scripted starting protocol into a network.
    pub distill_epochs: usize,
    /// While the honest team retrains, the verifier checks it every this many
    /// episodes: a verified protocol ends the retraining, a broken one adds
    /// its counterexamples to the replays (0: only once per iteration).
    pub verify_every: u64,
}

impl Default for HardenConfig {
    fn default() -> Self {
        HardenConfig {
            iterations: 8,
            attempts: 1,
            attack_episodes: 20480,
            defend_episodes: 40960,
            replay_fraction: 0.5,
            distill_epochs: 2000,
            verify_every: 0,
        }
    }
}

/// The `[sweep]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// Seeds each grid point runs with; empty: the experiment's own seed.
    pub seeds: Vec<u64>,
    /// Key path -> values, e.g. `"env.n" = [3, 4]`: every combination is a run.
    pub grid: BTreeMap<String, Vec<toml::Value>>,
}

fn default_seed() -> u64 {
    1
}

/// Which game an experiment plays.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Game {
    #[default]
    Consensus,
    Slush,
}

/// How a team plays.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A scripted protocol or adversary.
    #[default]
    Scripted,
    /// A network that learns (from `checkpoint` if given, else from scratch).
    Learned,
    /// A saved network that does not learn, played greedily.
    Frozen,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scripted => "scripted",
            Kind::Learned => "learned",
            Kind::Frozen => "frozen",
        }
    }
}

/// The `[honest]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HonestConfig {
    /// `scripted`, `learned` or `frozen`.
    pub kind: Kind,
    /// The scripted protocol: `majority`, `signed_relay` or `constant`.
    pub protocol: String,
    /// A checkpoint: the frozen network, or a learned team's starting point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
    /// The learner, when `kind = "learned"`.
    pub learn: LearnConfig,
}

impl Default for HonestConfig {
    fn default() -> Self {
        HonestConfig {
            kind: Kind::Scripted,
            protocol: "majority".into(),
            checkpoint: None,
            learn: LearnConfig::default(),
        }
    }
}

/// The `[byzantine]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ByzantineConfig {
    /// `scripted`, `learned` or `frozen`.
    pub kind: Kind,
    /// The scripted adversary: `silent`, `random`, `equivocate` or `twins`.
    pub adversary: String,
    /// A checkpoint: the frozen network, or a learned team's starting point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
    /// The learner, when `kind = "learned"`.
    pub learn: LearnConfig,
}

impl Default for ByzantineConfig {
    fn default() -> Self {
        ByzantineConfig {
            kind: Kind::Scripted,
            adversary: "equivocate".into(),
            checkpoint: None,
            learn: LearnConfig::default(),
        }
    }
}

/// Which learning team updates after an epoch.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Every learning team after every epoch.
    #[default]
    Simultaneous,
    /// Blocks of `block` epochs: the honest team, then the Byzantine team.
    Alternating,
}

/// The `[train]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Training episodes in all (0: evaluate only).
    pub episodes: u64,
    /// Episodes per epoch: one batch played, then one update.
    pub batch: usize,
    /// Training episodes between evaluation rows.
    pub eval_every: u64,
    /// Which team learns when both do.
    pub schedule: Schedule,
    /// Epochs per block when alternating.
    pub block: u64,
    /// A learning honest team also trains on replays of every counterexample
    /// the verifier has found against it at the evaluation rows so far.
    pub replay_counterexamples: bool,
    /// Replayed episodes per epoch, when it does.
    pub replay_batch: usize,
    /// A learning honest team stops training at the first evaluation row
    /// where the verifier finds no attack (needs `eval.verify`).
    pub stop_when_verified: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            episodes: 0,
            batch: 512,
            eval_every: 2000,
            schedule: Schedule::Simultaneous,
            block: 10,
            replay_counterexamples: false,
            replay_batch: 256,
            stop_when_verified: false,
        }
    }
}

/// The `[eval]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Sampled episodes per evaluation (the sample size of the sampled rates).
    pub episodes: u64,
    /// Episodes stepped together.
    pub batch: usize,
    /// Scripted adversaries to evaluate against, one CSV row each; empty: the Byzantine team's.
    pub adversaries: Vec<String>,
    /// Compute the optimal attack rate with the exact verifier.
    pub verify: bool,
    /// Largest protocol-evaluation bound the verifier may take on.
    pub max_work: f64,
    /// Largest number of instances to enumerate for the exact win rates.
    pub max_instances: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            episodes: 100_000,
            batch: 4096,
            adversaries: vec![],
            verify: true,
            max_work: envs::Limits::default().max_work,
            max_instances: 1 << 22,
        }
    }
}

/// A config that cannot be used, with the file it came from.
#[derive(Debug)]
pub struct LoadError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn new(file: &str, message: impl fmt::Display) -> LoadError {
        LoadError {
            file: file.to_string(),
            message: message.to_string(),
        }
    }
}

/// The built-in default experiment (what `selfplay` runs with no file).
pub const DEFAULT: &str = include_str!("../experiments/byz_break.toml");

/// Name of the built-in default run.
pub const DEFAULT_NAME: &str = "byz_break";

/// Reads and validates an experiment file.
pub fn load(path: &Path) -> Result<Resolved, LoadError> {
    load_with(path, &[])
}

/// Reads a consensus experiment file with `key.path=value` overrides applied
/// before validation, so an override is checked exactly like the file.
pub fn load_with(path: &Path, sets: &[String]) -> Result<Resolved, LoadError> {
    match load_job(path, sets)? {
        Job::Consensus(res) => Ok(res),
        Job::Slush(_) => Err(LoadError::new(
            &path.display().to_string(),
            "game = \"slush\": this command runs consensus experiments only; run it as `selfplay FILE`",
        )),
    }
}

/// An experiment of either game, checked.
pub enum Job {
    Consensus(Resolved),
    Slush(crate::slush::SlushJob),
}

/// Reads any experiment file (with overrides) and checks it for its game.
pub fn load_job(path: &Path, sets: &[String]) -> Result<Job, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(&file, format!("cannot read: {e}")))?;
    let text = apply_sets(&text, &file, sets)?;
    let mut exp = parse(&text, &file)?;
    if exp.name.is_none() {
        exp.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    job(exp).map_err(|e| LoadError::new(&file, e))
}

/// Checks an experiment for its game.
pub fn job(exp: Experiment) -> Result<Job, ConfigError> {
    match exp.game {
        Game::Consensus => resolve(exp).map(Job::Consensus),
        Game::Slush => crate::slush::SlushJob::new(exp).map(Job::Slush),
    }
}

/// Applies `key.path=value` overrides to TOML text. A value is read as TOML
/// (`3`, `true`, `[64, 64]`, `"pki"`), or else taken as a bare string.
pub fn apply_sets(text: &str, file: &str, sets: &[String]) -> Result<String, LoadError> {
    if sets.is_empty() {
        return Ok(text.to_string());
    }
    let mut root: toml::Table =
        toml::from_str(text).map_err(|e| LoadError::new(file, one_line(&e.to_string())))?;
    for set in sets {
        let (key, value) = set
            .split_once('=')
            .ok_or_else(|| LoadError::new(file, format!("--set {set}: expected key.path=value")))?;
        let value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
            Ok(mut t) => t.remove("v").expect("just parsed"),
            Err(_) => toml::Value::String(value.to_string()),
        };
        let parts: Vec<&str> = key.trim().split('.').collect();
        let mut table = &mut root;
        for (k, part) in parts.iter().enumerate() {
            if k + 1 == parts.len() {
                table.insert(part.to_string(), value.clone());
                break;
            }
            let entry = table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = entry.as_table_mut().ok_or_else(|| {
                LoadError::new(
                    file,
                    format!("--set {set}: {} is not a table", parts[..=k].join(".")),
                )
            })?;
        }
    }
    Ok(toml::to_string(&root).expect("a table serialises"))
}

/// Parses experiment TOML; errors name the key path.
pub fn parse(text: &str, file: &str) -> Result<Experiment, LoadError> {
    let de = toml::Deserializer::parse(text)
        .map_err(|e| LoadError::new(file, one_line(&e.to_string())))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = one_line(&e.into_inner().to_string());
        if path == "." || path.is_empty() {
            LoadError::new(file, inner)
        } else {
            LoadError::new(file, format!("{path}: {inner}"))
        }
    })
}

/// toml's messages quote the source over several lines; keep the gist.
fn one_line(msg: &str) -> String {
    let lines: Vec<&str> = msg
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.iter().rev().find(|l| {
        !l.starts_with('|')
            && !l.starts_with("-->")
            && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
    }) {
        Some(last) if lines.len() > 1 => format!("{} ({})", last, lines[0]),
        _ => lines.join(" "),
    }
}

/// The honest team as resolved.
pub enum HonestTeam {
    /// A deterministic protocol: scripted, or a frozen network played greedily.
    Protocol(Arc<dyn Protocol>),
    /// A network that learns, perhaps from a checkpoint.
    Learned(Option<Arc<Loaded>>),
}

/// The Byzantine team as resolved.
pub enum ByzantineTeam {
    /// Scripted adversaries, one evaluation row each.
    Scripted(Vec<String>),
    /// A network that learns, perhaps from a checkpoint.
    Learned(Option<Arc<Loaded>>),
    /// A saved network played greedily.
    Frozen(Arc<Loaded>),
}

/// An experiment with everything resolved: the game, the teams, the defaults.
pub struct Resolved {
    /// The experiment as run: name, seed and rounds filled in.
    pub exp: Experiment,
    pub spec: Arc<EnvSpec>,
    pub honest: HonestTeam,
    pub byzantine: ByzantineTeam,
}

impl Resolved {
    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("experiment")
    }

    /// Whether any team learns (a training run) or not (an evaluation).
    pub fn trains(&self) -> bool {
        matches!(self.honest, HonestTeam::Learned(_))
            || matches!(self.byzantine, ByzantineTeam::Learned(_))
    }
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// Loads a checkpoint for `team`, checking it fits the game.
fn checkpoint_for(
    key: &str,
    path: &Path,
    team: &str,
    obs_dim: usize,
) -> Result<Arc<Loaded>, ConfigError> {
    let shown = quoted(&path.display().to_string());
    let c = checkpoint::load(path).map_err(|e| ConfigError::new(key, &shown, e))?;
    if c.meta.team != team {
        return Err(ConfigError::new(
            key,
            &shown,
            format!("is a {} checkpoint, not {team}", c.meta.team),
        ));
    }
    if c.meta.obs_dim != obs_dim {
        return Err(ConfigError::new(
            key,
            &shown,
            format!(
                "takes observations of size {}, this game has {}: n, rounds and identity must match its training",
                c.meta.obs_dim, obs_dim
            ),
        ));
    }
    Ok(Arc::new(c))
}

/// Checks an experiment and builds what it names.
pub fn resolve(mut exp: Experiment) -> Result<Resolved, ConfigError> {
    // Rounds: given, or the honest protocol's own (3 for a learned team).
    let mut scripted: Option<Arc<dyn Protocol>> = None;
    let mut frozen: Option<Arc<Loaded>> = None;
    let rounds = match exp.honest.kind {
        Kind::Scripted => {
            let p: Arc<dyn Protocol> = protocols::scripted(&exp.honest.protocol)
                .ok_or_else(|| {
                    ConfigError::new(
                        "honest.protocol",
                        quoted(&exp.honest.protocol),
                        format!(
                            "unknown protocol; expected one of {}",
                            protocols::SCRIPTED.join(", ")
                        ),
                    )
                })?
                .into();
            let r = exp.env.rounds.unwrap_or_else(|| p.rounds_for(exp.env.f));
            scripted = Some(p);
            r
        }
        Kind::Frozen => {
            let path = exp.honest.checkpoint.clone().ok_or_else(|| {
                ConfigError::new(
                    "honest.checkpoint",
                    "(missing)",
                    "a frozen honest team needs a checkpoint",
                )
            })?;
            let c = checkpoint::load(&path).map_err(|e| {
                ConfigError::new("honest.checkpoint", quoted(&path.display().to_string()), e)
            })?;
            let r = exp.env.rounds.unwrap_or(c.meta.rounds);
            frozen = Some(Arc::new(c));
            r
        }
        Kind::Learned => exp.env.rounds.unwrap_or(3),
    };
    let spec = EnvSpec::new(&exp.env, rounds)?;
    exp.env.rounds = Some(rounds);
    let honest = match exp.honest.kind {
        Kind::Scripted => {
            let p = scripted.expect("resolved above");
            p.check(&spec).map_err(|why| {
                ConfigError::new("honest.protocol", quoted(&exp.honest.protocol), why)
            })?;
            HonestTeam::Protocol(p)
        }
        Kind::Frozen => {
            let path = exp.honest.checkpoint.as_ref().expect("checked above");
            let c = checkpoint_for("honest.checkpoint", path, "honest", obs_size(&spec))?;
            drop(frozen);
            let policy = c.policy().map_err(|e| {
                ConfigError::new("honest.checkpoint", quoted(&path.display().to_string()), e)
            })?;
            HonestTeam::Protocol(Arc::new(GreedyHonest {
                name: format!("frozen:{}", path.display()),
                policy,
                rounds,
            }))
        }
        Kind::Learned => {
            let init = match &exp.honest.checkpoint {
                Some(path) => Some(checkpoint_for(
                    "honest.checkpoint",
                    path,
                    "honest",
                    obs_size(&spec),
                )?),
                None => None,
            };
            HonestTeam::Learned(init)
        }
    };
    if spec.f == 0 && exp.byzantine.kind != Kind::Scripted {
        return Err(ConfigError::new(
            "byzantine.kind",
            quoted(exp.byzantine.kind.name()),
            "there are no Byzantine agents (env.f = 0)",
        ));
    }
    // `plays`: the adversary plays in this run (a learned or frozen team
    // leaves `byzantine.adversary` at its default, unused).
    let known = |key: &str, name: &str, plays: bool| {
        if adversaries::SCRIPTED.contains(&name) {
            if plays
                && spec.faults != Faults::Byzantine
                && adversaries::BYZANTINE_ONLY.contains(&name)
            {
                return Err(ConfigError::new(
                    key,
                    quoted(name),
                    format!(
                        "equivocation needs Byzantine faults; with env.faults = \"{}\" the \
                         adversary only drops messages: use silent or random, or a learned team",
                        spec.faults.name()
                    ),
                ));
            }
            if plays && spec.broadcasts() && adversaries::AGREEMENT_ONLY.contains(&name) {
                return Err(ConfigError::new(
                    key,
                    quoted(name),
                    "twins runs the honest protocol with an input of its own, and in a \
                     broadcast only the designated sender has one: use equivocate, random or \
                     a learned team",
                ));
            }
            Ok(())
        } else {
            Err(ConfigError::new(
                key,
                quoted(name),
                format!(
                    "unknown adversary; expected one of {}",
                    adversaries::SCRIPTED.join(", ")
                ),
            ))
        }
    };
    let scripted = exp.byzantine.kind == Kind::Scripted;
    known("byzantine.adversary", &exp.byzantine.adversary, scripted)?;
    for a in &exp.eval.adversaries {
        known("eval.adversaries", a, true)?;
    }
    let byz_checkpoint = |required: bool| -> Result<Option<Arc<Loaded>>, ConfigError> {
        match &exp.byzantine.checkpoint {
            Some(path) => Ok(Some(checkpoint_for(
                "byzantine.checkpoint",
                path,
                "byzantine",
                byz_obs_size(&spec),
            )?)),
            None if required => Err(ConfigError::new(
                "byzantine.checkpoint",
                "(missing)",
                "a frozen Byzantine team needs a checkpoint",
            )),
            None => Ok(None),
        }
    };
    let byzantine = match exp.byzantine.kind {
        Kind::Scripted if spec.f == 0 => ByzantineTeam::Scripted(vec!["none".into()]),
        Kind::Scripted
            if exp.eval.adversaries.is_empty() || !matches!(honest, HonestTeam::Protocol(_)) =>
        {
            ByzantineTeam::Scripted(vec![exp.byzantine.adversary.clone()])
        }
        Kind::Scripted => ByzantineTeam::Scripted(exp.eval.adversaries.clone()),
        Kind::Learned => ByzantineTeam::Learned(byz_checkpoint(false)?),
        Kind::Frozen => ByzantineTeam::Frozen(byz_checkpoint(true)?.expect("required")),
    };
    for (key, v) in [
        ("eval.episodes", exp.eval.episodes),
        ("train.batch", exp.train.batch as u64),
        ("eval.batch", exp.eval.batch as u64),
    ] {
        if v == 0 {
            return Err(ConfigError::new(key, 0, "needs at least 1 episode"));
        }
    }
    let res = Resolved {
        exp,
        spec: Arc::new(spec),
        honest,
        byzantine,
    };
    if res.exp.harden.attempts == 0 {
        return Err(ConfigError::new(
            "harden.attempts",
            0,
            "needs at least 1 attempt",
        ));
    }
    if res.trains() {
        if res.exp.train.episodes == 0 {
            return Err(ConfigError::new(
                "train.episodes",
                0,
                "a learning team needs training episodes",
            ));
        }
        if res.exp.train.eval_every == 0 {
            return Err(ConfigError::new(
                "train.eval_every",
                0,
                "needs at least 1 episode between evaluations",
            ));
        }
        if res.exp.train.stop_when_verified {
            let why = if !res.exp.eval.verify {
                Some("it needs the verifier: set eval.verify = true")
            } else if !matches!(res.honest, HonestTeam::Learned(_)) {
                Some("only a learned honest team stops when its protocol is verified")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(ConfigError::new("train.stop_when_verified", true, why));
            }
        }
        for (key, learn) in [
            ("honest.learn", &res.exp.honest.learn),
            ("byzantine.learn", &res.exp.byzantine.learn),
        ] {
            if learn.minibatch == 0 {
                return Err(ConfigError::new(
                    &format!("{key}.minibatch"),
                    0,
                    "needs at least 1 sample",
                ));
            }
            if learn.hidden.contains(&0) {
                return Err(ConfigError::new(
                    &format!("{key}.hidden"),
                    format!("{:?}", learn.hidden),
                    "layers need at least 1 unit",
                ));
            }
            if !(learn.lr > 0.0 && learn.lr.is_finite()) {
                return Err(ConfigError::new(
                    &format!("{key}.lr"),
                    learn.lr,
                    "needs a positive learning rate",
                ));
            }
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse(text, "x.toml").map(|e| resolve(e).map_err(|e| e.to_string())) {
            Err(e) => e.to_string(),
            Ok(Err(e)) => format!("x.toml: {e}"),
            Ok(Ok(_)) => panic!("accepted: {text}"),
        }
    }

    #[test]
    fn defaults_fill_an_empty_file() {
        let exp = parse("", "x.toml").unwrap();
        assert_eq!(exp.env.n, 3);
        assert_eq!(exp.seed, 1);
        let r = resolve(exp).unwrap();
        assert_eq!(r.exp.env.rounds, Some(2), "majority's own rounds");
        assert!(!r.trains());
    }

    #[test]
    fn overrides_go_through_the_same_validation() {
        let text = "[env]\nn = 4\n";
        let set = |s: &[&str]| {
            let sets: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            apply_sets(text, "x.toml", &sets).and_then(|t| parse(&t, "x.toml"))
        };
        let e = set(&[
            "env.f=2",
            "env.identity=pki",
            "honest.learn.hidden=[32, 32]",
            "name=x",
        ])
        .unwrap();
        assert_eq!((e.env.n, e.env.f), (4, 2));
        assert_eq!(e.env.identity, envs::Identity::Pki);
        assert_eq!(e.honest.learn.hidden, vec![32, 32]);
        assert_eq!(e.name.as_deref(), Some("x"));
        let err = set(&["env.nn=3"]).unwrap_err().to_string();
        assert!(err.starts_with("x.toml: env.nn: unknown field"), "{err}");
        let err = set(&["env.n.x=3"]).unwrap_err().to_string();
        assert!(err.contains("env.n is not a table"), "{err}");
        let err = set(&["env.n"]).unwrap_err().to_string();
        assert!(err.contains("expected key.path=value"), "{err}");
        let err = set(&["env.n=\"four\""]).unwrap_err().to_string();
        assert!(err.contains("env.n: invalid type"), "{err}");
    }

    #[test]
    fn the_default_experiment_resolves() {
        resolve(parse(DEFAULT, "default").unwrap()).unwrap();
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = err("[env]\nnn = 3\n");
        assert!(
            e.starts_with("x.toml: env.nn: unknown field `nn`, expected one of `n`"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
        let e = err("seeed = 3\n");
        assert!(e.starts_with("x.toml: seeed: unknown field `seeed`"), "{e}");
        let e = err("[env]\nn = \"three\"\n");
        assert!(e.starts_with("x.toml: env.n: invalid type"), "{e}");
        let e = err("[env]\nf = 3\n");
        assert_eq!(
            e,
            "x.toml: env.f = 3: needs f < n = 3: at least one agent must be honest"
        );
        let e = err("[env]\ncomm = \"interactive_consistency\"\nidentity = \"anonymous\"\n");
        assert!(
            e.contains("env.identity = \"anonymous\": a broadcast's recipients must recognise"),
            "{e}"
        );
        let e = err("[env]\ncomm = \"broadcast\"\n");
        assert!(
            e.contains("honest.protocol = \"majority\": majority counts every agent's input")
                && e.ends_with("use dolev_strong"),
            "{e}"
        );
        let e = err("[env]\ncomm = \"gossip\"\n");
        assert!(
            e.starts_with("x.toml: env.comm: unknown variant `gossip`"),
            "{e}"
        );
        let e = err("[honest]\nprotocol = \"paxos\"\n");
        assert!(
            e.contains("honest.protocol = \"paxos\": unknown protocol"),
            "{e}"
        );
        let e = err("[honest]\nprotocol = \"signed_relay\"\n[env]\nidentity = \"anonymous\"\n");
        assert!(
            e.contains("honest.protocol = \"signed_relay\": signed_relay reads relays"),
            "{e}"
        );
        let e = err("[eval]\nadversaries = [\"silent\", \"sneaky\"]\n");
        assert!(
            e.contains("eval.adversaries = \"sneaky\": unknown adversary"),
            "{e}"
        );
        let e = err("[env]\nrounds = 0\n");
        assert!(e.contains("env.rounds = 0"), "{e}");
        let e = err("[honest]\nkind = \"frozen\"\n");
        assert!(
            e.contains("honest.checkpoint = (missing): a frozen honest team needs a checkpoint"),
            "{e}"
        );
        let e = err("[honest]\nkind = \"frozen\"\ncheckpoint = \"/nonexistent.safetensors\"\n");
        assert!(e.contains("honest.checkpoint = \"/nonexistent.safetensors\": /nonexistent.safetensors: cannot read"), "{e}");
        let e = err("[env]\nf = 0\n[byzantine]\nkind = \"learned\"\n");
        assert!(
            e.contains("byzantine.kind = \"learned\": there are no Byzantine agents"),
            "{e}"
        );
        let e = err("[byzantine]\nkind = \"learned\"\n");
        assert!(
            e.contains("train.episodes = 0: a learning team needs training episodes"),
            "{e}"
        );
        let e = err("[byzantine]\nkind = \"learned\"\n[train]\nepisodes = 10\n[byzantine.learn]\nlr = -1.0\n");
        assert!(
            e.contains("byzantine.learn.lr = -1: needs a positive learning rate"),
            "{e}"
        );
        let e = err(
            "[byzantine]\nkind = \"learned\"\n[train]\nepisodes = 10\nstop_when_verified = true\n",
        );
        assert!(
            e.contains("train.stop_when_verified = true: only a learned honest team stops"),
            "{e}"
        );
        let e = err("[env]\ncanonical_views = true\nidentity = \"anonymous\"\n");
        assert!(
            e.contains("env.canonical_views = true: anonymous views are counts"),
            "{e}"
        );
        let e = err("[harden]\nattempts = 0\n");
        assert!(
            e.contains("harden.attempts = 0: needs at least 1 attempt"),
            "{e}"
        );
        let e = err("[honest.learn]\nalgo = \"dqn\"\n");
        assert!(
            e.contains("honest.learn.algo: unknown variant `dqn`"),
            "{e}"
        );
        let e = err("[env\n");
        assert!(e.starts_with("x.toml: "), "{e}");
    }
}
