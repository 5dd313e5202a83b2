//! Experiment files: plain serde structs with defaults, unknown keys refused,
//! and a validation pass whose errors name the file and the key.

use crate::games::consensus::teams::GreedyHonest;
use crate::games::{Entry, Job, Registry};
use agents::checkpoint::{self, Loaded};
use agents::LearnConfig;
use envs::consensus::view::{byz_obs_size, obs_size};
use envs::consensus::{adversaries, protocols, ConfigError, EnvConfig, EnvSpec, Protocol, Rewards};
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
    /// The game: `consensus` (message passing, docs/rules.md), `slush` (Avalanche's
    /// sampling game) or `reliable_broadcast` (docs/reliable_broadcast_learning.md).
    #[serde(default = "default_game")]
    pub game: String,
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
    pub slush: envs::sampling::SlushConfig,
    /// Reliable broadcast's learning parameters (`game = "reliable_broadcast"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rb: Option<crate::games::broadcast::game::RbConfig>,
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

fn default_game() -> String {
    "consensus".into()
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
    /// The scripted protocol, by its name in `envs::consensus::protocols::REGISTRY`.
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
            max_work: envs::consensus::Limits::default().max_work,
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
/// For the commands that play the consensus game only (`harden`).
pub fn load_with(path: &Path, sets: &[String]) -> Result<Resolved, LoadError> {
    let file = path.display().to_string();
    let (exp, _) = load_experiment(&Registry::built_in(), path, sets)?;
    if exp.game != "consensus" {
        return Err(LoadError::new(
            &file,
            format!(
                "game = \"{}\": this command runs consensus experiments only; \
                 run it as `selfplay FILE`",
                exp.game
            ),
        ));
    }
    resolve(exp).map_err(|e| LoadError::new(&file, e))
}

/// Reads an experiment file (with overrides) as its game reads it: the
/// game named, and no key that game does not read. Nothing is checked
/// beyond the keys (the game's `job` checks the values).
pub fn load_experiment(
    registry: &Registry,
    path: &Path,
    sets: &[String],
) -> Result<(Experiment, &'static dyn Entry), LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(&file, format!("cannot read: {e}")))?;
    let mut exp = parse_with(&text, &file, sets)?;
    if exp.name.is_none() {
        exp.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    let entry = game_of(registry, &text, &file, sets, &exp)?;
    Ok((exp, entry))
}

/// The game `exp` names, with the keys of `text` (and `sets`) checked
/// against what it reads.
fn game_of(
    registry: &Registry,
    text: &str,
    file: &str,
    sets: &[String],
    exp: &Experiment,
) -> Result<&'static dyn Entry, LoadError> {
    let entry = registry
        .find(&exp.game)
        .map_err(|e| LoadError::new(file, format!("game: {e}")))?;
    let written: toml::Table = toml::from_str(&apply_sets(text, file, sets)?)
        .map_err(|e| LoadError::new(file, one_line(&e.to_string())))?;
    crate::games::refuse_foreign_keys(entry, &written).map_err(|e| match sets.is_empty() {
        true => LoadError::new(file, e),
        false => LoadError::new(file, format!("{e} (with --set {})", sets.join(" --set "))),
    })?;
    Ok(entry)
}

/// Reads any experiment file (with overrides) and checks it for its game.
pub fn load_job(path: &Path, sets: &[String]) -> Result<Box<dyn Job>, LoadError> {
    load_job_in(&Registry::built_in(), path, sets)
}

/// [`load_job`] among the games of `registry`.
pub fn load_job_in(
    registry: &Registry,
    path: &Path,
    sets: &[String],
) -> Result<Box<dyn Job>, LoadError> {
    let file = path.display().to_string();
    let (exp, entry) = load_experiment(registry, path, sets)?;
    entry.job(exp).map_err(|e| LoadError::new(&file, e))
}

/// Checks a parsed experiment for its game (its keys are checked where its
/// text is read: [`load_experiment`]).
pub fn job(exp: Experiment) -> Result<Box<dyn Job>, ConfigError> {
    let entry = crate::games::built_in(&exp.game)
        .map_err(|e| ConfigError::new("game", quoted(&exp.game), e))?;
    entry.job(exp)
}

/// The built-in default experiment, with overrides, checked for its game.
pub fn default_job(sets: &[String]) -> Result<Box<dyn Job>, LoadError> {
    let origin = "built-in default";
    let mut exp = parse_with(DEFAULT, origin, sets)?;
    exp.name.get_or_insert_with(|| DEFAULT_NAME.into());
    let entry = game_of(&Registry::built_in(), DEFAULT, origin, sets, &exp)?;
    entry.job(exp).map_err(|e| LoadError::new(origin, e))
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

/// Parses experiment TOML with `key.path=value` overrides. An error in the
/// text itself points at its own lines (not at the text the overrides
/// rewrote); one the overrides bring is said to come from them.
pub fn parse_with(text: &str, file: &str, sets: &[String]) -> Result<Experiment, LoadError> {
    if sets.is_empty() {
        return parse(text, file);
    }
    if let Err(e) = toml::from_str::<toml::Table>(text) {
        return Err(LoadError::new(file, one_line(&e.to_string())));
    }
    let combined = apply_sets(text, file, sets)?;
    parse(&combined, file).map_err(|e| {
        let key = |m: &str| m.split(':').next().unwrap_or("").to_string();
        match parse(text, file) {
            Err(own) if key(&own.message) == key(&e.message) => own,
            _ => {
                let gist = match e.message.find(" (TOML parse error at line") {
                    Some(at) => e.message[..at].to_string(),
                    None => e.message.clone(),
                };
                LoadError::new(
                    file,
                    format!("{gist} (with --set {})", sets.join(" --set ")),
                )
            }
        }
    })
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

/// Reads a checkpoint, refusing one whose weights are not all finite (a
/// diverged or damaged file would otherwise play as some fixed protocol).
pub fn load_checkpoint(path: &Path) -> Result<Loaded, String> {
    let c = checkpoint::load(path)?;
    for (name, (_, values)) in &c.tensors {
        if values.iter().any(|x| !x.is_finite()) {
            return Err(format!(
                "{}: tensor {name} holds non-finite weights (NaN or infinite): \
                 a diverged or damaged checkpoint",
                path.display()
            ));
        }
    }
    Ok(c)
}

/// Why a checkpoint cannot play in `game`: it was trained in another
/// (named, so the user knows which command reads it).
pub fn other_game(c: &Loaded, game: &str) -> Option<String> {
    let trained = parse(&c.meta.config, "").ok()?.game;
    (trained != game).then(|| {
        format!(
            "a checkpoint of game = \"{trained}\": a {game} run cannot play it \
             (run, verify and explain it as a {trained} checkpoint)"
        )
    })
}

/// Loads a checkpoint for `team`, checking it fits the game.
fn checkpoint_for(
    key: &str,
    path: &Path,
    team: &str,
    obs_dim: usize,
) -> Result<Arc<Loaded>, ConfigError> {
    let shown = quoted(&path.display().to_string());
    let c = load_checkpoint(path).map_err(|e| ConfigError::new(key, &shown, e))?;
    if let Some(game) = other_game(&c, "consensus") {
        return Err(ConfigError::new(key, &shown, game));
    }
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

/// Every number a path to it: `a.b.c` and the value, floats only.
fn floats(value: &toml::Value, path: &str, out: &mut Vec<(String, f64)>) {
    match value {
        toml::Value::Float(x) => out.push((path.to_string(), *x)),
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                floats(v, &p, out);
            }
        }
        toml::Value::Array(a) => {
            for v in a {
                floats(v, path, out);
            }
        }
        _ => {}
    }
}

/// Values no run can use, refused up front with their key: non-finite
/// numbers, learner settings out of range, counts of zero. Checked for both
/// games, whether or not the team they belong to learns in this run.
pub fn check_values(exp: &Experiment) -> Result<(), ConfigError> {
    if let Some(name) = &exp.name {
        // The name is a folder under results/ (a sweep's runs: name/label).
        let plain = !name.is_empty()
            && Path::new(name)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain {
            return Err(ConfigError::new(
                "name",
                quoted(name),
                "a run name is a folder under results/: not empty, not absolute, \
                 no `.` or `..` (use --out for another place)",
            ));
        }
    }
    let mut exp = exp.clone();
    exp.sweep = None; // grid values are checked in the runs they make
    let table = toml::Value::try_from(&exp)
        .map_err(|e| ConfigError::new("(experiment)", "?", e.to_string()))?;
    let mut all = vec![];
    floats(&table, "", &mut all);
    if let Some((key, x)) = all.iter().find(|(_, x)| !x.is_finite()) {
        return Err(ConfigError::new(key, x, "needs a finite number"));
    }
    for (key, x) in all.iter().filter(|(k, _)| k.starts_with("rewards.")) {
        if x.abs() > 1e6 {
            return Err(ConfigError::new(
                key,
                x,
                "rewards this large overflow the learners' f32 arithmetic: keep |reward| <= 1e6",
            ));
        }
    }
    let range = |key: &str, x: f64, lo: f64, hi: f64, why: &str| {
        if (lo..=hi).contains(&x) {
            Ok(())
        } else {
            Err(ConfigError::new(key, x, why.to_string()))
        }
    };
    // One check for every game's learners (`LearnConfig::check`): each
    // game's validation comes through here.
    for (team, l) in [
        ("honest", &exp.honest.learn),
        ("byzantine", &exp.byzantine.learn),
    ] {
        l.check().map_err(|r| {
            ConfigError::new(&format!("{team}.learn.{}", r.field), r.value, r.reason)
        })?;
    }
    // Every game plays its batches in a loop that a batch of 0 episodes
    // never ends (the sampling game spun forever on one).
    let at_least_one = [
        (
            "train.batch",
            exp.train.batch as u64,
            "episodes per training batch",
        ),
        (
            "eval.batch",
            exp.eval.batch as u64,
            "episodes per evaluation batch",
        ),
        (
            "eval.episodes",
            exp.eval.episodes,
            "episodes to evaluate on",
        ),
        ("train.block", exp.train.block, "epochs per block"),
        (
            "train.replay_batch",
            exp.train.replay_batch as u64,
            "replayed episodes per epoch",
        ),
        (
            "eval.max_instances",
            exp.eval.max_instances,
            "instances to enumerate (the exact rates need at least one)",
        ),
    ];
    for (key, v, what) in at_least_one {
        if v == 0 {
            return Err(ConfigError::new(
                key,
                0,
                format!("needs at least 1: {what}"),
            ));
        }
    }
    if exp.eval.max_work <= 0.0 {
        return Err(ConfigError::new(
            "eval.max_work",
            exp.eval.max_work,
            "the verifier's work bound must be positive",
        ));
    }
    range(
        "harden.replay_fraction",
        exp.harden.replay_fraction,
        0.0,
        1.0,
        "a share of train.batch, in [0, 1]",
    )?;
    Ok(())
}

/// Bytes of memory available (Linux `MemAvailable`), if known.
fn memory_available() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// A rough upper estimate of a run's memory, in bytes, per key responsible:
/// the batches of episodes and what the learners record of them, and the
/// networks with their gradients and Adam moments.
pub fn memory_estimate(res: &Resolved) -> Vec<(String, f64)> {
    let spec = &res.spec;
    let exp = &res.exp;
    let (n, rounds) = (spec.n() as f64, spec.rounds() as f64);
    // An episode's inbox and state, and its own copy in play.
    let episode = (spec.stride() + 64) as f64;
    let mut parts = vec![("eval.batch".to_string(), exp.eval.batch as f64 * episode)];
    if res.trains() {
        let mut batch = exp.train.batch as f64 * episode;
        for (team, l, obs, learns) in [
            (
                "honest",
                &exp.honest.learn,
                obs_size(spec),
                matches!(res.honest, HonestTeam::Learned(_)),
            ),
            (
                "byzantine",
                &exp.byzantine.learn,
                byz_obs_size(spec),
                matches!(res.byzantine, ByzantineTeam::Learned(_)),
            ),
        ] {
            if !learns {
                continue;
            }
            let width: f64 = l.hidden.iter().map(|&h| h as f64).sum();
            // Every decision recorded (observation, mask, action, value...),
            // and the activations of acting on a batch at once.
            let decisions = exp.train.batch as f64 * n * rounds;
            batch += decisions * (obs as f64 + 16.0) * 4.0 + decisions * width * 4.0 * 2.0;
            let mut sizes = vec![obs];
            sizes.extend(&l.hidden);
            let weights: f64 = sizes
                .windows(2)
                .map(|w| (w[0] as f64 + 1.0) * w[1] as f64)
                .sum::<f64>()
                + l.hidden.last().map_or(obs, |&h| h) as f64
                    * (3 + spec.byz_action_len() * 3) as f64;
            // Policy and critic; weights, gradients and two moments, f32;
            // activations of a minibatch forward and back.
            let net = 2.0 * weights * 4.0 * 4.0 + l.minibatch as f64 * width * 4.0 * 4.0;
            parts.push((format!("{team}.learn.hidden"), net));
        }
        parts.push(("train.batch".to_string(), batch));
    }
    parts
}

/// Refuses a run whose memory estimate exceeds the memory available,
/// naming the key that weighs most.
fn check_memory(res: &Resolved) -> Result<(), ConfigError> {
    let Some(available) = memory_available() else {
        return Ok(());
    };
    let parts = memory_estimate(res);
    let total: f64 = parts.iter().map(|p| p.1).sum();
    if total <= available {
        return Ok(());
    }
    let (key, _) = parts
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("at least eval.batch");
    let value = match key.as_str() {
        "eval.batch" => res.exp.eval.batch.to_string(),
        "train.batch" => res.exp.train.batch.to_string(),
        "honest.learn.hidden" => format!("{:?}", res.exp.honest.learn.hidden),
        _ => format!("{:?}", res.exp.byzantine.learn.hidden),
    };
    Err(ConfigError::new(
        key,
        value,
        format!(
            "the run needs about {:.1} GB of memory (estimate), {:.1} GB are available",
            total / 1e9,
            available / 1e9
        ),
    ))
}

/// Checks an experiment and builds what it names.
pub fn resolve(mut exp: Experiment) -> Result<Resolved, ConfigError> {
    check_values(&exp)?;
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
                            protocols::names().join(", ")
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
            let c = load_checkpoint(&path).map_err(|e| {
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
    if spec.f() == 0 && exp.byzantine.kind != Kind::Scripted {
        return Err(ConfigError::new(
            "byzantine.kind",
            quoted(exp.byzantine.kind.name()),
            "there are no Byzantine agents (env.f = 0)",
        ));
    }
    // `plays`: the adversary plays in this run (a learned or frozen team
    // leaves `byzantine.adversary` at its default, unused).
    let known = |key: &str, name: &str, plays: bool| {
        // The honest protocol `twins` would run does not matter to its check.
        let silent: Arc<dyn Protocol> = Arc::new(protocols::Constant);
        let Some(adversary) = adversaries::scripted(name, silent) else {
            return Err(ConfigError::new(
                key,
                quoted(name),
                format!(
                    "unknown adversary; expected one of {}",
                    adversaries::names().join(", ")
                ),
            ));
        };
        match adversary.check(&spec) {
            Err(why) if plays => Err(ConfigError::new(key, quoted(name), why)),
            _ => Ok(()),
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
        Kind::Scripted if spec.f() == 0 => ByzantineTeam::Scripted(vec!["none".into()]),
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
    }
    check_memory(&res)?;
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
        assert_eq!(e.env.identity, envs::consensus::Identity::Pki);
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

    #[test]
    fn unusable_values_are_refused_up_front_by_key() {
        for (text, expected) in [
            (
                "[honest.learn]\nlr = 1e9\n",
                "honest.learn.lr = 1000000000: Adam diverges",
            ),
            (
                "[honest.learn]\nlr = nan\n",
                "honest.learn.lr = NaN: needs a finite number",
            ),
            (
                "[byzantine.learn]\ngamma = nan\n",
                "byzantine.learn.gamma = NaN: needs a finite",
            ),
            (
                "[byzantine.learn]\ngamma = inf\n",
                "byzantine.learn.gamma = inf: needs a finite",
            ),
            (
                "[byzantine.learn]\ngamma = 1.5\n",
                "byzantine.learn.gamma = 1.5: a discount",
            ),
            (
                "[honest.learn]\nentropy_coef = -inf\n",
                "honest.learn.entropy_coef = -inf: needs a finite",
            ),
            (
                "[rewards]\ncorrect_commit = inf\n",
                "rewards.correct_commit = inf: needs a finite",
            ),
            (
                "[rewards]\nround_penalty = 2e6\n",
                "rewards.round_penalty = 2000000: rewards this large",
            ),
            (
                "[rewards.byzantine]\nwin = nan\n",
                "rewards.byzantine.win = NaN: needs a finite",
            ),
            (
                "[honest.learn]\nclip = nan\n",
                "honest.learn.clip = NaN: needs a finite",
            ),
            (
                "[honest.learn]\nbaseline = \"batch_mean\"\n",
                "honest.learn.baseline = \"batch_mean\": only REINFORCE",
            ),
            (
                "game = \"slush\"\n[env]\nn = 5\n[rewards]\nround_penalty_at = \"every_step\"\n",
                "rewards.round_penalty_at = \"every_step\": the sampling game",
            ),
            (
                "[honest.learn]\nclip = 0.0\n",
                "honest.learn.clip = 0: PPO's clip",
            ),
            (
                "[byzantine.learn]\nmax_grad_norm = -1.0\n",
                "byzantine.learn.max_grad_norm = -1: gradients are rescaled",
            ),
            (
                "[byzantine.learn]\nupdate_epochs = 0\n",
                "byzantine.learn.update_epochs = 0: passes over each batch",
            ),
            (
                "[byzantine.learn]\nupdate_epochs = 1000000000\n",
                "byzantine.learn.update_epochs = 1000000000: passes",
            ),
            ("[train]\nblock = 0\n", "train.block = 0: needs at least 1"),
            (
                "[train]\nreplay_batch = 0\n",
                "train.replay_batch = 0: needs at least 1",
            ),
            (
                "[eval]\nmax_work = 0.0\n",
                "eval.max_work = 0: the verifier's work bound",
            ),
            (
                "[eval]\nmax_work = nan\n",
                "eval.max_work = NaN: needs a finite",
            ),
            (
                "[eval]\nmax_instances = 0\n",
                "eval.max_instances = 0: needs at least 1",
            ),
            (
                "[harden]\nreplay_fraction = nan\n",
                "harden.replay_fraction = NaN: needs a finite",
            ),
            (
                "[harden]\nreplay_fraction = -1.0\n",
                "harden.replay_fraction = -1: a share",
            ),
            (
                "[harden]\nreplay_fraction = 5.0\n",
                "harden.replay_fraction = 5: a share",
            ),
            (
                "game = \"slush\"\n[honest.learn]\nlr = 1e9\n",
                "honest.learn.lr = 1000000000",
            ),
        ] {
            let e = match parse(text, "x.toml").map(job) {
                Ok(Err(e)) => e.to_string(),
                Ok(Ok(_)) => panic!("accepted: {text}"),
                Err(e) => panic!("{text}: {e}"),
            };
            assert!(e.starts_with(expected), "{text}: {e}");
        }
    }

    #[test]
    fn runs_that_cannot_fit_in_memory_are_refused_with_the_estimate() {
        if memory_available().is_none() {
            return; // no /proc/meminfo: nothing to compare with
        }
        let learned = "[byzantine]\nkind = \"learned\"\n[train]\nepisodes = 10\n";
        let e = err(&format!("{learned}batch = 100000000\n"));
        assert!(
            e.starts_with("x.toml: train.batch = 100000000: the run needs about")
                && e.contains("GB of memory (estimate)"),
            "{e}"
        );
        let e = err(&format!(
            "{learned}[byzantine.learn]\nhidden = [1000000, 1000000]\n"
        ));
        assert!(
            e.starts_with(
                "x.toml: byzantine.learn.hidden = [1000000, 1000000]: the run needs about"
            ),
            "{e}"
        );
        // What the repository's experiments need is far from it.
        let res = resolve(parse(DEFAULT, "default").unwrap()).unwrap();
        let total: f64 = memory_estimate(&res).iter().map(|p| p.1).sum();
        assert!(total < 1e9, "{total}");
    }
}
