//! Consensus rounds (docs/rules.md): the run, its teams, the scores of a
//! row, hardening, and `explain`.

pub mod bench;
pub mod config;
pub mod explain;
pub mod game;
pub mod harden;
pub mod score;
pub mod teams;
pub mod verify;

use crate::config::{Experiment, LoadError};
use crate::games::consensus::config::Resolved;
use envs::consensus::{ConfigError, Limits};
use std::path::Path;

/// The consensus game in the registry.
pub struct Entry;
pub static ENTRY: Entry = Entry;

impl crate::games::Entry for Entry {
    fn name(&self) -> &'static str {
        "consensus"
    }

    fn about(&self) -> &'static str {
        "consensus rounds: agreement, broadcast, interactive consistency, atomic commit"
    }

    fn read(&self, text: &str, file: &str) -> Result<Experiment, LoadError> {
        crate::experiment_file::read::<config::File>(self.name(), text, file)
    }

    fn job(&self, exp: Experiment) -> Result<Box<dyn crate::games::Job>, ConfigError> {
        Ok(Box::new(crate::games::consensus::config::resolve(exp)?))
    }

    fn bench(&self) -> crate::bench::Bench {
        bench::bench()
    }

    fn explain(&self, checkpoint: &Path, max_work: f64) -> Result<String, String> {
        let (spec, p) = explain::from_checkpoint(checkpoint)?;
        explain::explain(&spec, &p, &Limits { max_work })
    }

    fn verify_flags(&self, cmd: clap::Command) -> clap::Command {
        <verify::ConsensusFlags as clap::Args>::augment_args(cmd)
    }

    fn verify_reads(&self) -> &'static [&'static str] {
        &[
            "protocol",
            "checkpoint",
            "n",
            "f",
            "faults",
            "rounds",
            "max_work",
        ]
    }

    fn verify(&self, c: &crate::games::verify::Common, m: &clap::ArgMatches) -> Result<(), String> {
        let flags = <verify::ConsensusFlags as clap::FromArgMatches>::from_arg_matches(m)
            .map_err(|e| e.to_string())?;
        verify::run(c, &flags)
    }

    fn commands(&self) -> Vec<clap::Command> {
        let about = "Attack, verify, defend: from a fixed honest protocol to a verified one \
                     (consensus)";
        // After the flags: the flags' struct would otherwise give its own doc.
        vec![
            <harden::HardenArgs as clap::Args>::augment_args(clap::Command::new("harden"))
                .about(about),
        ]
    }

    fn command(&self, name: &str, m: &clap::ArgMatches) -> Result<(), String> {
        match name {
            "harden" => {
                let a = <harden::HardenArgs as clap::FromArgMatches>::from_arg_matches(m)
                    .map_err(|e| e.to_string())?;
                harden::command(&a)
            }
            _ => Err(format!("the consensus game has no command {name}")),
        }
    }
}

impl crate::games::Job for Resolved {
    fn exp(&self) -> &Experiment {
        &self.exp
    }

    fn name(&self) -> &str {
        Resolved::name(self)
    }

    fn trains(&self) -> bool {
        Resolved::trains(self)
    }

    /// Training, or with `harden.enabled` the hardening schedule: both
    /// through the one runner.
    fn run(&self, out: &Path, quiet: bool, resume: bool) -> anyhow::Result<()> {
        let say = crate::out::sayer(quiet);
        match self.exp.harden.enabled {
            true => crate::runner::run(&mut harden::Harden::new(self)?, out, &say, quiet, resume)
                .map(drop),
            false => crate::runner::run(&mut game::Consensus::new(self)?, out, &say, quiet, resume)
                .map(drop),
        }
    }
}
