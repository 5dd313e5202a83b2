//! `selfplay verify`: the flags every game shares, each game's own flags
//! (under its heading in `verify --help`), and the dispatch to the game
//! `--game` names. A flag given on the command line that the chosen game
//! does not read is refused, naming the game that reads it: a flag the
//! game would ignore is a mistake the user wants to hear of.

use super::{Entry, Registry};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches};
use envs::consensus::Limits;
use std::path::PathBuf;

/// The flags every game's `verify` may read.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The game: consensus, slush or reliable_broadcast (each game's own
    /// flags are listed under its name below).
    #[arg(long, default_value = "consensus")]
    pub game: String,
    /// A scripted protocol by its registered name (an unknown name is
    /// refused with the list of the game's protocols).
    #[arg(
        long,
        required_unless_present = "checkpoint",
        conflicts_with = "checkpoint"
    )]
    pub protocol: Option<String>,
    /// A learned honest checkpoint, played greedily; its game's settings
    /// are its own unless given.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Agents; with --checkpoint, the checkpoint's own unless given.
    #[arg(long, required_unless_present = "checkpoint")]
    pub n: Option<usize>,
    /// Faulty agents; with --checkpoint, as --n.
    #[arg(long, required_unless_present = "checkpoint")]
    pub f: Option<usize>,
    /// Fault model: byzantine, crash or omission [default: byzantine; with
    /// a --checkpoint, its own] (consensus, reliable_broadcast).
    #[arg(long)]
    pub faults: Option<String>,
    /// Rounds [default: the protocol's own] (consensus, slush).
    #[arg(long)]
    pub rounds: Option<u8>,
    /// The most protocol evaluations the search may make (docs/verifier.md)
    /// (consensus, slush).
    #[arg(long, default_value_t = Limits::default().max_work, value_parser = parse_max_work)]
    pub max_work: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A work limit: a positive number (NaN would switch the verifier's guard off).
pub fn parse_max_work(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|&x| x > 0.0 && x.is_finite())
        .ok_or_else(|| "the limit is a positive number of protocol evaluations".to_string())
}

/// The flags of `selfplay verify` as parsed: the shared ones, and every
/// game's own, which the chosen game reads back from the matches.
#[derive(Debug, Clone)]
pub struct VerifyArgs(pub ArgMatches);

impl FromArgMatches for VerifyArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(VerifyArgs(m.clone()))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0 = m.clone();
        Ok(())
    }
}

impl Args for VerifyArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        with_flags(&Registry::built_in(), cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// The shared flags, then each game's under its name.
pub fn with_flags(registry: &Registry, cmd: clap::Command) -> clap::Command {
    let cmd = Common::augment_args(cmd);
    registry.entries().iter().fold(cmd, |cmd, e| {
        e.verify_flags(cmd.next_help_heading(format!("--game {}", e.name())))
    })
}

/// The ids of the flags a game adds to `verify`.
fn own_flags(entry: &dyn Entry) -> Vec<String> {
    entry
        .verify_flags(clap::Command::new("verify"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

/// Runs `verify` in the game `--game` names, after refusing any flag given
/// that the game does not read.
pub fn verify(registry: &Registry, m: &ArgMatches) -> Result<(), String> {
    let common = Common::from_arg_matches(m).map_err(|e| e.to_string())?;
    let entry = registry
        .find(&common.game)
        .map_err(|e| format!("--game: {e}"))?;
    let own = own_flags(entry);
    let shared = Common::augment_args(clap::Command::new("verify"));
    for arg in shared.get_arguments().map(|a| a.get_id().to_string()) {
        let given = m.value_source(&arg) == Some(ValueSource::CommandLine);
        if given && arg != "game" && arg != "json" && !entry.verify_reads().contains(&arg.as_str())
        {
            return Err(refusal(registry, entry, &arg));
        }
    }
    for other in registry
        .entries()
        .iter()
        .filter(|e| e.name() != entry.name())
    {
        for arg in own_flags(*other) {
            let given = m.value_source(&arg) == Some(ValueSource::CommandLine);
            if given && !own.contains(&arg) {
                return Err(refusal(registry, entry, &arg));
            }
        }
    }
    entry.verify(&common, m)
}

/// Why `--arg` is refused in `entry`'s game: which games read it.
fn refusal(registry: &Registry, entry: &dyn Entry, arg: &str) -> String {
    let readers: Vec<&str> = registry
        .entries()
        .iter()
        .filter(|e| e.verify_reads().contains(&arg) || own_flags(**e).iter().any(|a| a == arg))
        .map(|e| e.name())
        .collect();
    let flag = arg.replace('_', "-");
    let game = entry.name();
    match readers.as_slice() {
        [] => format!("--{flag}: --game {game} does not read it"),
        _ => format!(
            "--{flag}: --game {game} does not read it; it is a flag of --game {}",
            readers.join(" and --game ")
        ),
    }
}
