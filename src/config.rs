//! Experiment files: plain serde structs with defaults, unknown keys refused,
//! and a validation pass whose errors name the file and the key.

use envs::{adversaries, protocols, ConfigError, EnvConfig, EnvSpec, Protocol, Rewards};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
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
    /// The game.
    #[serde(default)]
    pub env: EnvConfig,
    /// The honest team.
    #[serde(default)]
    pub honest: HonestConfig,
    /// The Byzantine team.
    #[serde(default)]
    pub byzantine: ByzantineConfig,
    /// What to measure.
    #[serde(default)]
    pub eval: EvalConfig,
    /// Shaped rewards (never the reported win rate).
    #[serde(default)]
    pub rewards: Rewards,
}

fn default_seed() -> u64 {
    1
}

/// The `[honest]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HonestConfig {
    /// A scripted protocol: `majority`, `signed_relay` or `constant`.
    pub protocol: String,
}

impl Default for HonestConfig {
    fn default() -> Self {
        HonestConfig {
            protocol: "majority".into(),
        }
    }
}

/// The `[byzantine]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ByzantineConfig {
    /// A scripted adversary: `silent`, `random`, `equivocate` or `twins`.
    pub adversary: String,
}

impl Default for ByzantineConfig {
    fn default() -> Self {
        ByzantineConfig {
            adversary: "equivocate".into(),
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
pub const DEFAULT: &str = include_str!("../experiments/majority.toml");

/// Reads and validates an experiment file.
pub fn load(path: &Path) -> Result<Resolved, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(&file, format!("cannot read: {e}")))?;
    let mut exp = parse(&text, &file)?;
    if exp.name.is_none() {
        exp.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    resolve(exp).map_err(|e| LoadError::new(&file, e))
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

/// An experiment with everything resolved: the game, the teams, the defaults.
pub struct Resolved {
    /// The experiment as run: name, seed and rounds filled in.
    pub exp: Experiment,
    pub spec: Arc<EnvSpec>,
    pub protocol: Arc<dyn Protocol>,
    /// The scripted adversaries evaluated, one row each.
    pub adversaries: Vec<String>,
}

impl Resolved {
    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("experiment")
    }
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// Checks an experiment and builds what it names.
pub fn resolve(mut exp: Experiment) -> Result<Resolved, ConfigError> {
    let protocol: Arc<dyn Protocol> = protocols::scripted(&exp.honest.protocol)
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
    let rounds = exp.env.rounds.unwrap_or_else(|| protocol.rounds());
    let spec = EnvSpec::new(&exp.env, rounds)?;
    protocol
        .check(&spec)
        .map_err(|why| ConfigError::new("honest.protocol", quoted(&exp.honest.protocol), why))?;
    exp.env.rounds = Some(rounds);
    let known = |key: &str, name: &str| {
        if adversaries::SCRIPTED.contains(&name) {
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
    known("byzantine.adversary", &exp.byzantine.adversary)?;
    for a in &exp.eval.adversaries {
        known("eval.adversaries", a)?;
    }
    if exp.eval.episodes == 0 {
        return Err(ConfigError::new(
            "eval.episodes",
            0,
            "needs at least 1 episode",
        ));
    }
    if exp.eval.batch == 0 {
        return Err(ConfigError::new(
            "eval.batch",
            0,
            "needs at least 1 episode per batch",
        ));
    }
    let adversaries = if spec.f == 0 {
        // Nobody to attack with: one row, against no adversary.
        vec!["none".to_string()]
    } else if exp.eval.adversaries.is_empty() {
        vec![exp.byzantine.adversary.clone()]
    } else {
        exp.eval.adversaries.clone()
    };
    Ok(Resolved {
        exp,
        spec: Arc::new(spec),
        protocol,
        adversaries,
    })
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
        let e = err("[env]\ncomm = \"broadcast\"\n");
        assert!(
            e.contains("env.comm = \"broadcast\": not supported yet"),
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
        let e = err("[env\n");
        assert!(e.starts_with("x.toml: "), "{e}");
    }
}
