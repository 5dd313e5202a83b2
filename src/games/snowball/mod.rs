//! Snowball at Avalanche's size (issue 30, docs/snowball.md): scripted
//! adversaries (the paper's rebalancing liveness attacks) evaluated through
//! the runner, `selfplay liveness-threshold` (the smallest Byzantine share
//! that stops liveness in half of the episodes), and its `bench` figure.

pub mod bench;
pub mod config;
pub mod game;
pub mod learned;
pub mod stake;
pub mod threshold;

use crate::config::{Experiment, LoadError};
use envs::consensus::ConfigError;
use game::{SnowballJob, SnowballRun};
use std::path::Path;

/// Snowball in the registry.
pub struct Entry;
pub static ENTRY: Entry = Entry;

impl crate::games::Entry for Entry {
    fn name(&self) -> &'static str {
        "snowball"
    }

    fn about(&self) -> &'static str {
        "Snowball at Avalanche's size (n in the thousands) against scripted and learned liveness attacks"
    }

    fn read(&self, text: &str, file: &str) -> Result<Experiment, LoadError> {
        crate::experiment_file::read::<config::File>(self.name(), text, file)
    }

    fn job(&self, exp: Experiment) -> Result<Box<dyn crate::games::Job>, ConfigError> {
        Ok(Box::new(SnowballJob::new(exp)?))
    }

    fn explain(&self, _checkpoint: &Path, _max_work: f64) -> Result<String, String> {
        Err(
            "snowball's learned adversary has no explanation yet: evaluate it with \
             byzantine.kind = \"frozen\" and byzantine.checkpoint"
                .into(),
        )
    }

    fn verify_reads(&self) -> &'static [&'static str] {
        &[]
    }

    fn verify(
        &self,
        _c: &crate::games::verify::Common,
        _m: &clap::ArgMatches,
    ) -> Result<(), String> {
        Err(
            "snowball has no exact verifier at its size; `selfplay liveness-threshold FILE` \
             measures its scripted attacks"
                .into(),
        )
    }

    fn commands(&self) -> Vec<clap::Command> {
        let about = "The smallest Byzantine share at which a scripted attack stops Snowball's \
                     liveness in half of the episodes, by bisection over f (snowball)";
        vec![
            <threshold::ThresholdArgs as clap::Args>::augment_args(clap::Command::new(
                "liveness-threshold",
            ))
            .about(about),
            <stake::PlotArgs as clap::Args>::augment_args(clap::Command::new("liveness-plot"))
                .about(
                    "The Byzantine share stopping Snowball's liveness against n, from \
                     liveness-threshold CSV files, as an SVG (snowball)",
                ),
        ]
    }

    fn command(&self, name: &str, m: &clap::ArgMatches) -> Result<(), String> {
        match name {
            "liveness-threshold" => {
                let a = <threshold::ThresholdArgs as clap::FromArgMatches>::from_arg_matches(m)
                    .map_err(|e| e.to_string())?;
                threshold::command(&a)
            }
            "liveness-plot" => {
                let a = <stake::PlotArgs as clap::FromArgMatches>::from_arg_matches(m)
                    .map_err(|e| e.to_string())?;
                stake::command(&a)
            }
            _ => Err(format!("snowball has no command {name}")),
        }
    }

    fn bench(&self) -> crate::bench::Bench {
        bench::bench()
    }
}

impl crate::games::Job for SnowballJob {
    fn exp(&self) -> &Experiment {
        &self.exp
    }

    fn name(&self) -> &str {
        SnowballJob::name(self)
    }

    fn trains(&self) -> bool {
        self.exp.byzantine.kind == crate::config::Kind::Learned
    }

    fn run(&self, out: &Path, quiet: bool, resume: bool) -> anyhow::Result<()> {
        let say = crate::out::sayer(quiet);
        crate::runner::run(&mut SnowballRun::new(self)?, out, &say, quiet, resume)?;
        Ok(())
    }
}
