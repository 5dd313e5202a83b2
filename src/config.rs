//! Experiment files: plain serde structs with defaults, unknown keys refused,
//! and a validation pass whose errors name the file and the key.

use agents::checkpoint::{self, Loaded};
use agents::LearnConfig;
use envs::consensus::{ConfigError, EnvConfig, Rewards};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
    /// The game, by its name in the registry (`games::Registry`):
    /// `consensus` (message passing, docs/rules.md), `slush` (Avalanche's
    /// sampling game), `reliable_broadcast`
    /// (docs/reliable_broadcast_learning.md) or `snowball` (docs/snowball.md). The tables below are every
    /// game's; the loader refuses a key the named game does not read.
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
    pub rb: Option<envs::broadcast::config::RbConfig>,
    /// Snowball at Avalanche's size (`game = "snowball"`); written only when
    /// given, so other runs' `config.toml` keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snowball: Option<envs::sampling::snowball::SnowballConfig>,
    /// `selfplay harden`: attack, verify, defend until verified.
    #[serde(default)]
    pub harden: HardenConfig,
    /// Runs of this experiment over seeds and a grid of keys (`selfplay sweep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepConfig>,
}

impl Default for Experiment {
    /// Every key at its default: what an empty file means.
    fn default() -> Self {
        Experiment {
            name: None,
            seed: default_seed(),
            game: default_game(),
            env: EnvConfig::default(),
            honest: HonestConfig::default(),
            byzantine: ByzantineConfig::default(),
            train: TrainConfig::default(),
            eval: EvalConfig::default(),
            rewards: Rewards::default(),
            slush: envs::sampling::SlushConfig::default(),
            rb: None,
            snowball: None,
            harden: HardenConfig::default(),
            sweep: None,
        }
    }
}

/// The `[harden]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HardenConfig {
    /// `selfplay FILE` hardens instead of training (what `selfplay harden
    /// FILE` sets): the consensus game's hardening schedule, through the one
    /// runner, so it resumes, plots and sweeps like any run. Written only
    /// when set, so other runs' `config.toml` keep their bytes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enabled: bool,
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
            enabled: false,
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

crate::some_keys! {
    /// `[train]` as the sampling game and reliable broadcast read it: no
    /// blocks of epochs, no replays of counterexamples (the consensus
    /// game's).
    pub struct LearningTrain of TrainConfig {
        episodes: u64,
        batch: usize,
        eval_every: u64,
        schedule: Schedule,
        stop_when_verified: bool,
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
    pub fn new(file: &str, message: impl fmt::Display) -> LoadError {
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
            // A number TOML cannot hold is not a string the user meant.
            Err(_) if is_integer(value) => {
                return Err(LoadError::new(
                    file,
                    format!(
                        "--set {set}: out of range: a TOML integer is from {} to {}",
                        i64::MIN,
                        i64::MAX
                    ),
                ))
            }
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

/// A seed as TOML holds it: a 64-bit signed integer, never negative.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .ok()
        .filter(|&x| x <= i64::MAX as u64)
        .ok_or_else(|| format!("a seed is a whole number from 0 to {}", i64::MAX))
}

/// Whether `s` is written as a whole number (sign, digits, underscores).
fn is_integer(s: &str) -> bool {
    let digits = s.trim().trim_start_matches(['+', '-']);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Parses experiment TOML with `key.path=value` overrides, as the record
/// reads it (every game's keys). An error in the text itself points at its
/// own lines (not at the text the overrides rewrote); one the overrides
/// bring is said to come from them.
pub fn parse_with(text: &str, file: &str, sets: &[String]) -> Result<Experiment, LoadError> {
    read_with(text, file, sets, parse)
}

/// [`parse_with`] through `read`: a game's own file (`experiment_file::read`).
pub fn read_with(
    text: &str,
    file: &str,
    sets: &[String],
    read: impl Fn(&str, &str) -> Result<Experiment, LoadError>,
) -> Result<Experiment, LoadError> {
    if sets.is_empty() {
        return read(text, file);
    }
    if let Err(e) = toml::from_str::<toml::Table>(text) {
        return Err(LoadError::new(file, one_line(&e.to_string())));
    }
    let combined = apply_sets(text, file, sets)?;
    read(&combined, file).map_err(|e| {
        let key = |m: &str| m.split(':').next().unwrap_or("").to_string();
        match read(text, file) {
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
pub(crate) fn one_line(msg: &str) -> String {
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
    let trained = trained_in(c)?;
    (trained != game).then(|| {
        format!(
            "a checkpoint of game = \"{trained}\": a {game} run cannot play it \
             (run, verify and explain it as a {trained} checkpoint)"
        )
    })
}

/// The game a checkpoint was trained in, by its config (`None` if the
/// config cannot be read: the caller's own checks say what is wrong).
pub fn trained_in(c: &Loaded) -> Option<String> {
    parse(&c.meta.config, "").ok().map(|e| e.game)
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
        let why = match x.is_nan() {
            true => "needs a finite number",
            // A learner's or reward's setting is an f32: past 3.4e38 it
            // reads as infinite though written finite.
            false => {
                "needs a finite number (learner and reward settings are single precision: \
                      at most about 3.4e38 in size)"
            }
        };
        return Err(ConfigError::new(key, x, why));
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

/// Key paths where two TOML values differ, in key order.
pub fn differences(a: &toml::Value, b: &toml::Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => differences(v, w, &p, out),
                    _ => out.push(p),
                }
            }
        }
        _ if a != b => out.push(path.to_string()),
        _ => {}
    }
}

/// What every learning run needs, checked once for every game: training
/// episodes, and a row every so many of them.
pub fn check_training(exp: &Experiment) -> Result<(), ConfigError> {
    if exp.train.episodes == 0 {
        return Err(ConfigError::new(
            "train.episodes",
            0,
            "a learning team needs training episodes",
        ));
    }
    if exp.train.eval_every == 0 {
        return Err(ConfigError::new(
            "train.eval_every",
            0,
            "needs at least 1 episode between evaluations",
        ));
    }
    Ok(())
}

pub(crate) fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}
