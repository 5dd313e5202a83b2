//! The games as the runner plays them, one folder each, and the registry
//! every command reaches them through.
//!
//! A game's folder holds its config checks, its run (the
//! [`crate::runner::Game`] implementation), its teams, the scores of a row,
//! its `verify` and `explain`. The rules themselves live in `envs`, in the
//! folder of the same name. Nothing outside this module names a game: the
//! runner, the config loader, `sweep`, `verify`, `explain`, `plot` and `bench` ask the
//! [`Registry`] for the game an experiment or a checkpoint names.

pub mod broadcast;
pub mod commands;
pub mod consensus;
pub mod load;
pub mod sampling;
pub mod snowball;
pub mod verify;

pub use load::{default_job, job, load_experiment, load_job, load_job_in};

use crate::config::{Experiment, LoadError};
use envs::consensus::ConfigError;
use std::path::Path;

/// One game as every command reaches it.
pub trait Entry: Sync {
    /// Its name in `game = "..."` and `verify --game`.
    fn name(&self) -> &'static str;
    /// The game in a line, for lists and help.
    fn about(&self) -> &'static str;
    /// Reads an experiment file of this game: its own typed file
    /// (`experiment_file!`, read by `experiment_file::read`), so a key it
    /// does not read is refused by the parser, naming it: a key the game
    /// would ignore is a mistake the user wants to hear of.
    fn read(&self, text: &str, file: &str) -> Result<Experiment, LoadError>;
    /// Checks an experiment of this game (values, teams, checkpoints, the
    /// memory it would need) and builds its run.
    fn job(&self, exp: Experiment) -> Result<Box<dyn Job>, ConfigError>;
    /// `selfplay explain` on one of its checkpoints.
    fn explain(&self, checkpoint: &Path, max_work: f64) -> Result<String, String>;
    /// `selfplay explain --n N --f F`: at another size than its training's,
    /// for games whose checkpoints play at any size (reliable broadcast's
    /// threshold view); refused by the others.
    fn explain_at(
        &self,
        checkpoint: &Path,
        max_work: f64,
        n: Option<usize>,
        f: Option<usize>,
    ) -> Result<String, String> {
        if n.is_some() || f.is_some() {
            return Err(format!(
                "--n and --f: {} checkpoints are explained at their training size only",
                self.name()
            ));
        }
        self.explain(checkpoint, max_work)
    }
    /// Its own flags of `selfplay verify` (beside [`verify::Common`]).
    fn verify_flags(&self, cmd: clap::Command) -> clap::Command {
        cmd
    }
    /// The shared flags of `verify` it reads (ids, as `max_work`), beside
    /// `--game` and `--json`; any other shared flag given is refused.
    fn verify_reads(&self) -> &'static [&'static str];
    /// `selfplay verify --game NAME`: the exact verdict on a protocol or a
    /// checkpoint, printed. `m` holds its own flags.
    fn verify(&self, common: &verify::Common, m: &clap::ArgMatches) -> Result<(), String>;
    /// Commands of its own beyond a run, `verify` and `explain` (such as
    /// `selfplay harden`): each a clap command, named once among all games.
    fn commands(&self) -> Vec<clap::Command> {
        vec![]
    }
    /// What `selfplay bench` measures of it (nothing by default).
    fn bench(&self) -> crate::bench::Bench {
        crate::bench::Bench::default()
    }
    /// Runs its command `name` (one of [`Entry::commands`]) on `m`.
    fn command(&self, name: &str, _m: &clap::ArgMatches) -> Result<(), String> {
        Err(format!("game {} has no command {name}", self.name()))
    }
}

/// A checked experiment, ready to run through the one runner.
pub trait Job: Send + Sync {
    fn exp(&self) -> &Experiment;
    fn name(&self) -> &str;
    /// Whether a team learns: a run with a training loop and a saved state.
    fn trains(&self) -> bool;
    /// Runs it into `out`; with `resume`, from the state saved there.
    fn run(&self, out: &Path, quiet: bool, resume: bool) -> anyhow::Result<()>;
}

/// Runs `job` in its run folder (`--out`, or `results/<name>`), as
/// `selfplay FILE` and `selfplay harden` do: the folder opened and locked
/// (refused if it holds an earlier run, unless resumed or overwritten), a
/// resume refused for a job that keeps no state or a folder without one.
pub fn run_in_folder(
    job: &dyn Job,
    flags: &crate::folder::RunFlags,
    resume: bool,
) -> Result<(), String> {
    if !job.trains() && resume {
        return Err(
            "--resume: evaluation runs keep no state to go on from; run again with \
                    --overwrite to start over"
                .into(),
        );
    }
    let out = flags.out(job.name());
    let _folder = crate::folder::open(&out, flags.mode(resume)).map_err(|e| format!("{e:#}"))?;
    if resume && !crate::runner::can_resume(job.exp(), &out).map_err(|e| format!("{e:#}"))? {
        return Err(format!(
            "--resume: {} holds no saved state ({}) to go on from",
            out.display(),
            crate::runner::STATE
        ));
    }
    if job.trains() {
        crate::runner::one_thread_inside_runs();
    }
    job.run(&out, flags.quiet, resume)
        .map_err(|e| format!("{e:#}"))
}

/// The games a command can reach: the built-in ones, and any a program
/// using the library adds (`examples/custom_game.rs`).
pub struct Registry {
    entries: Vec<&'static dyn Entry>,
}

/// The built-in games, in the order help lists them.
static BUILT_IN: [&dyn Entry; 4] = [
    &consensus::ENTRY,
    &sampling::ENTRY,
    &broadcast::ENTRY,
    &snowball::ENTRY,
];

impl Registry {
    /// The built-in games.
    pub fn built_in() -> Registry {
        Registry {
            entries: BUILT_IN.to_vec(),
        }
    }

    /// The built-in games and `extra`; a name taken twice is refused.
    pub fn with(mut self, extra: &'static dyn Entry) -> Result<Registry, String> {
        if self.entries.iter().any(|e| e.name() == extra.name()) {
            return Err(format!(
                "a game named {} is registered already",
                extra.name()
            ));
        }
        self.entries.push(extra);
        Ok(self)
    }

    pub fn entries(&self) -> &[&'static dyn Entry] {
        &self.entries
    }

    /// Every game's name, for messages.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name()).collect()
    }

    /// The game named `name`, or an error listing the games there are.
    pub fn find(&self, name: &str) -> Result<&'static dyn Entry, String> {
        self.entries
            .iter()
            .find(|e| e.name() == name)
            .copied()
            .ok_or_else(|| {
                format!(
                    "no game named \"{name}\"; the games are {}",
                    self.names().join(", ")
                )
            })
    }

    /// What `selfplay bench` measures of each game, in the registry's order.
    pub fn benches(&self) -> Vec<crate::bench::Bench> {
        self.entries.iter().map(|e| e.bench()).collect()
    }

    /// The game a checkpoint was trained in, read from its config.
    pub fn of_checkpoint(&self, path: &Path) -> Result<&'static dyn Entry, String> {
        let c = agents::checkpoint::load(path)?;
        let exp = crate::config::parse(&c.meta.config, &path.display().to_string())
            .map_err(|e| format!("{}: its config cannot be read: {e}", path.display()))?;
        self.find(&exp.game).map_err(|e| {
            format!(
                "{}: trained in a game this program lacks: {e}",
                path.display()
            )
        })
    }
}

/// The built-in registry's entry for `name`, for code that holds a game's
/// name from a file it read (a checkpoint's config).
pub fn built_in(name: &str) -> Result<&'static dyn Entry, String> {
    Registry::built_in().find(name)
}

/// A checkpoint given to `verify --game GAME --checkpoint`, with the
/// experiment it was trained in: refused naming its own game when that is
/// not `game`.
pub fn checkpoint_of(
    path: &Path,
    game: &str,
) -> Result<(agents::checkpoint::Loaded, Experiment), String> {
    let c = crate::config::load_checkpoint(path)?;
    let exp = crate::config::parse(&c.meta.config, &path.display().to_string())
        .map_err(|e| e.to_string())?;
    if exp.game != game {
        return Err(verify_elsewhere(path, &exp.game, game));
    }
    Ok((c, exp))
}

/// Why a checkpoint of another game cannot be verified as one of `game`:
/// which game it belongs to, and the command that verifies it.
pub fn verify_elsewhere(path: &Path, trained: &str, game: &str) -> String {
    format!(
        "--checkpoint {shown}: a checkpoint of game = \"{trained}\", not {game}; verify it with \
         `selfplay verify --game {trained} --checkpoint {shown}`",
        shown = path.display()
    )
}
