//! Reliable broadcast (docs/reliable_broadcast.md): the learning run, both
//! teams' play, the greedy network as a protocol, `verify`, `synthesize` and
//! `explain`.

pub mod alln;
pub mod bench;
pub mod config;
pub mod explain;
pub mod game;
pub mod play;
pub mod score;
pub mod synth;
pub mod verify;

use crate::config::{Experiment, LoadError};
use envs::consensus::ConfigError;
use game::{RbJob, RbRun};
use std::path::Path;

/// Reliable broadcast in the registry.
pub struct Entry;
pub static ENTRY: Entry = Entry;

impl crate::games::Entry for Entry {
    fn name(&self) -> &'static str {
        "reliable_broadcast"
    }

    fn about(&self) -> &'static str {
        "asynchronous reliable broadcast (INIT/ECHO/READY), event-driven"
    }

    fn read(&self, text: &str, file: &str) -> Result<Experiment, LoadError> {
        crate::experiment_file::read::<config::File>(self.name(), text, file)
    }

    fn job(&self, exp: Experiment) -> Result<Box<dyn crate::games::Job>, ConfigError> {
        Ok(Box::new(RbJob::new(exp)?))
    }

    fn bench(&self) -> crate::bench::Bench {
        bench::bench()
    }

    fn explain(&self, checkpoint: &Path, _max_work: f64) -> Result<String, String> {
        explain::explain(checkpoint, (None, None))
    }

    fn explain_at(
        &self,
        checkpoint: &Path,
        _max_work: f64,
        n: Option<usize>,
        f: Option<usize>,
    ) -> Result<String, String> {
        explain::explain(checkpoint, (n, f))
    }

    fn verify_flags(&self, cmd: clap::Command) -> clap::Command {
        let cmd = <verify::RbFlags as clap::Args>::augment_args(cmd);
        // --all-n proves for every n: --n and --f are then not asked for.
        let has = |c: &clap::Command, id: &str| c.get_arguments().any(|a| a.get_id() == id);
        if has(&cmd, "n") && has(&cmd, "f") && has(&cmd, "checkpoint") {
            let free = |a: clap::Arg| a.required_unless_present_any(["checkpoint", "all_n"]);
            cmd.mut_arg("n", free).mut_arg("f", free)
        } else {
            cmd
        }
    }

    fn verify_reads(&self) -> &'static [&'static str] {
        &["protocol", "checkpoint", "n", "f", "faults"]
    }

    fn verify(&self, c: &crate::games::verify::Common, m: &clap::ArgMatches) -> Result<(), String> {
        let flags = <verify::RbFlags as clap::FromArgMatches>::from_arg_matches(m)
            .map_err(|e| e.to_string())?;
        if flags.all_n {
            if c.n.is_some() || c.f.is_some() {
                return Err("--all-n proves for every n > 3t: drop --n and --f".into());
            }
            return alln::run(
                c.protocol.as_deref(),
                c.checkpoint.as_deref(),
                flags.semantics.unwrap_or_default(),
                c.faults.as_deref(),
                flags.z3_seconds.unwrap_or(alln::Z3_SECONDS),
                c.json,
            );
        }
        verify::run(&verify::Request {
            protocol: c.protocol.as_deref(),
            checkpoint: c.checkpoint.as_deref(),
            n: c.n,
            f: c.f,
            faults: c.faults.as_deref(),
            json: c.json,
            flags: &flags,
        })
    }

    fn commands(&self) -> Vec<clap::Command> {
        let about = "Every program of RB-Learner's reliable-broadcast grammar, verified \
                     exactly; the verified ones ranked by messages sent";
        // After the flags: the flags' struct would otherwise give its own doc.
        let export = "A threshold-guarded reliable-broadcast protocol as a threshold automaton in \
                      ByMC's .ta format (TACO and ByMC read it)";
        vec![
            <synth::SynthArgs as clap::Args>::augment_args(clap::Command::new("synthesize"))
                .about(about),
            <alln::ExportArgs as clap::Args>::augment_args(clap::Command::new("export-ta"))
                .about(export),
        ]
    }

    fn command(&self, name: &str, m: &clap::ArgMatches) -> Result<(), String> {
        match name {
            "synthesize" => {
                let a = <synth::SynthArgs as clap::FromArgMatches>::from_arg_matches(m)
                    .map_err(|e| e.to_string())?;
                synth::run(&a)
            }
            "export-ta" => {
                let a = <alln::ExportArgs as clap::FromArgMatches>::from_arg_matches(m)
                    .map_err(|e| e.to_string())?;
                alln::export(&a)
            }
            _ => Err(format!("reliable broadcast has no command {name}")),
        }
    }
}

impl crate::games::Job for RbJob {
    fn exp(&self) -> &Experiment {
        &self.exp
    }

    fn name(&self) -> &str {
        RbJob::name(self)
    }

    fn trains(&self) -> bool {
        true
    }

    fn run(&self, out: &Path, quiet: bool, resume: bool) -> anyhow::Result<()> {
        let say = crate::out::sayer(quiet);
        crate::runner::run(&mut RbRun::new(self)?, out, &say, quiet, resume)?;
        Ok(())
    }
}
