//! Avalanche's sampling game (docs/learning.md): the run, both teams' play,
//! the attack figures, `verify --game slush` and `explain`.

pub mod config;
pub mod explain;
pub mod game;
pub mod play;
pub mod score;
pub mod verify;

use crate::config::{Experiment, LoadError};
use envs::consensus::ConfigError;
use game::{SlushJob, SlushRun};
use std::path::Path;

/// The sampling game in the registry.
pub struct Entry;
pub static ENTRY: Entry = Entry;

impl crate::games::Entry for Entry {
    fn name(&self) -> &'static str {
        "slush"
    }

    fn about(&self) -> &'static str {
        "Avalanche's sampling game (Slush, Snowflake) and its exact optimal adversary"
    }

    fn read(&self, text: &str, file: &str) -> Result<Experiment, LoadError> {
        crate::experiment_file::read::<config::File>(self.name(), text, file)
    }

    fn job(&self, exp: Experiment) -> Result<Box<dyn crate::games::Job>, ConfigError> {
        Ok(Box::new(SlushJob::new(exp)?))
    }

    fn explain(&self, checkpoint: &Path, _max_work: f64) -> Result<String, String> {
        explain::explain(checkpoint)
    }

    fn verify_flags(&self, cmd: clap::Command) -> clap::Command {
        <verify::SlushFlags as clap::Args>::augment_args(cmd)
    }

    fn verify_reads(&self) -> &'static [&'static str] {
        &["protocol", "checkpoint", "n", "f", "rounds", "max_work"]
    }

    fn verify(&self, c: &crate::games::verify::Common, m: &clap::ArgMatches) -> Result<(), String> {
        let flags = <verify::SlushFlags as clap::FromArgMatches>::from_arg_matches(m)
            .map_err(|e| e.to_string())?;
        verify::run(&verify::Request {
            protocol: c.protocol.as_deref(),
            checkpoint: c.checkpoint.as_deref(),
            n: c.n.ok_or("--n: required for the sampling game")?,
            f: c.f.ok_or("--f: required for the sampling game")?,
            rounds: c.rounds,
            flags: &flags,
            json: c.json,
            max_work: c.max_work,
        })
    }
}

impl crate::games::Job for SlushJob {
    fn exp(&self) -> &Experiment {
        &self.exp
    }

    fn name(&self) -> &str {
        SlushJob::name(self)
    }

    fn trains(&self) -> bool {
        SlushJob::trains(self)
    }

    fn run(&self, out: &Path, quiet: bool, resume: bool) -> anyhow::Result<()> {
        let say = crate::out::sayer(quiet);
        crate::runner::run(&mut SlushRun::new(self)?, out, &say, quiet, resume)?;
        Ok(())
    }
}
