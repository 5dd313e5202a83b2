use clap::{Args, Parser, Subcommand};
use envs::{protocols, verify, EnvConfig, EnvSpec, Limits, Protocol, Switch};
use selfplay::config;
use selfplay::folder::{self, Mode};
use std::path::PathBuf;
use std::process::ExitCode;

/// Reinforcement-learning teams play distributed consensus, scored exactly.
///
/// `selfplay FILE` runs an experiment; with no FILE, the built-in default.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Experiment file (TOML); omitted: the built-in default (experiments/byz_break.toml).
    file: Option<PathBuf>,
    /// Run folder; default results/<name>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overrides the experiment's seed (0 to 2^63 - 1).
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// Overrides any config key, e.g. --set env.n=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
    /// Go on with a killed training run in the run folder, to the same result.
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Delete an earlier run's files in the run folder first (else a used folder is refused).
    #[arg(long)]
    overwrite: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Exact optimal attack rate of an honest protocol, with a counterexample.
    Verify(Box<VerifyArgs>),
    /// Every program of RB-Learner's reliable-broadcast grammar, verified
    /// exactly; the verified ones ranked by messages sent.
    Synthesize(selfplay::rb_synth::SynthArgs),
    /// Runs an experiment's [sweep]: every seed and grid point, on all cores.
    Sweep {
        file: PathBuf,
        /// Print one command per run (for Slurm arrays, GNU parallel) and exit.
        #[arg(long)]
        list: bool,
        /// Run only the I-th run of the list.
        #[arg(long)]
        index: Option<usize>,
        /// Runs at once, 1 to 1024 (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Overrides any config key before the sweep's own (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Folder holding results/<name>/...
        #[arg(long, default_value = "results")]
        root: PathBuf,
    },
    /// Attack, verify, defend: from a fixed honest protocol to a verified one.
    Harden(RunArgs),
    /// A learned honest checkpoint as a decision table (view -> action); a
    /// sampling-game one as a rule over (round, colour, counts).
    Explain {
        checkpoint: PathBuf,
        /// The most protocol evaluations the search may make (docs/verifier.md).
        #[arg(long, default_value_t = Limits::default().max_work, value_parser = parse_max_work)]
        max_work: f64,
    },
    /// Draws RUN_DIR/curves.svg from RUN_DIR/metrics.csv.
    Plot {
        /// A run folder (holding metrics.csv).
        run: PathBuf,
    },
    /// Speed figures: engine episodes per second and verifier times.
    Bench {
        /// A short run (for smoke tests), not for reporting.
        #[arg(long)]
        quick: bool,
        /// Print only the stable figures, as one JSON object: engine_episodes_per_s,
        /// acting_decisions_per_s, acting_distinct_obs_decisions_per_s, ppo_samples_per_s,
        /// reinforce_train_episodes_per_s.
        #[arg(long)]
        json: bool,
        /// Only this figure (for profiling): acting, acting_distinct, engine, ppo, reinforce or
        /// rb_verify (the reliable-broadcast verifier's table).
        #[arg(long)]
        only: Option<String>,
    },
}

#[derive(Args)]
struct VerifyArgs {
    /// consensus (message passing), slush (the sampling game's exact optimal
    /// adversary) or reliable_broadcast (asynchronous, event-driven; docs/reliable_broadcast.md).
    #[arg(long, default_value = "consensus")]
    game: String,
    /// A scripted protocol by its name in envs::protocols::REGISTRY (an unknown
    /// name is refused with the list); with --game slush, slush or snowflake.
    #[arg(
        long,
        required_unless_present = "checkpoint",
        conflicts_with = "checkpoint"
    )]
    protocol: Option<String>,
    /// A learned honest checkpoint, played greedily (either game).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Agents; with --checkpoint, the checkpoint's own (reliable broadcast
    /// and consensus) unless given.
    #[arg(long, required_unless_present = "checkpoint")]
    n: Option<usize>,
    /// Faulty agents; with --checkpoint, as --n.
    #[arg(long, required_unless_present = "checkpoint")]
    f: Option<usize>,
    /// authenticated, pki or anonymous.
    #[arg(long, default_value = "authenticated")]
    identity: String,
    /// Communication mode: agreement, broadcast, interactive_consistency or atomic_commit.
    #[arg(long, default_value = "agreement")]
    comm: String,
    /// Timing: synchronous, partially_synchronous or asynchronous.
    #[arg(long, default_value = "synchronous")]
    synchrony: String,
    /// With delays: the most rounds a message is held beyond the next (1 or 2).
    #[arg(long)]
    delta: Option<u8>,
    /// Partial synchrony: the stabilisation round.
    #[arg(long)]
    gst: Option<u8>,
    /// Fault model: byzantine, crash or omission [default: byzantine; with
    /// a reliable-broadcast --checkpoint, its own].
    #[arg(long)]
    faults: Option<String>,
    /// Rounds; default: the protocol's own.
    #[arg(long)]
    rounds: Option<u8>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The most protocol evaluations the search may make (docs/verifier.md).
    #[arg(long, default_value_t = Limits::default().max_work, value_parser = parse_max_work)]
    max_work: f64,
    #[command(flatten)]
    slush: selfplay::slush_verify::SlushFlags,
    #[command(flatten)]
    rb: selfplay::rb_verify::RbFlags,
}

/// A work limit: a positive number (NaN would switch the verifier's guard off).
fn parse_max_work(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|&x| x > 0.0 && x.is_finite())
        .ok_or_else(|| "the limit is a positive number of protocol evaluations".to_string())
}

/// A seed as TOML holds it: a 64-bit signed integer, never negative.
fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .ok()
        .filter(|&x| x <= i64::MAX as u64)
        .ok_or_else(|| format!("a seed is a whole number from 0 to {}", i64::MAX))
}

/// The value of `--name`, or an error listing what it accepts.
fn flag<T: Switch>(name: &str, value: &str) -> Result<T, String> {
    T::parse(value).ok_or_else(|| format!("--{name} {value}: expected {}", T::expected()))
}

fn verify_cmd(a: VerifyArgs) -> Result<(), String> {
    if a.game == "reliable_broadcast" {
        return selfplay::rb_verify::run(&selfplay::rb_verify::Request {
            protocol: a.protocol.as_deref(),
            checkpoint: a.checkpoint.as_deref(),
            n: a.n,
            f: a.f,
            faults: a.faults.as_deref(),
            json: a.json,
            flags: &a.rb,
            foreign: [
                ("identity", a.identity != "authenticated"),
                ("comm", a.comm != "agreement"),
                ("synchrony", a.synchrony != "synchronous"),
                ("delta", a.delta.is_some()),
                ("gst", a.gst.is_some()),
                ("rounds", a.rounds.is_some()),
                ("max-work", a.max_work != Limits::default().max_work),
                (a.slush.given().unwrap_or(""), a.slush.given().is_some()),
            ]
            .into_iter()
            .filter(|x| x.1)
            .map(|x| x.0)
            .collect(),
        });
    }
    if let Some(path) = a
        .checkpoint
        .as_deref()
        .filter(|p| selfplay::rb_explain::is_rb(p))
    {
        return Err(format!(
            "--checkpoint {}: a reliable-broadcast checkpoint; add --game reliable_broadcast",
            path.display()
        ));
    }
    if !["consensus", "slush"].contains(&a.game.as_str()) {
        return Err(format!(
            "--game {}: expected consensus, slush or reliable_broadcast",
            a.game
        ));
    }
    if let Some(flag) = a.rb.given() {
        return Err(format!(
            "--{flag}: only reliable broadcast reads it; add --game reliable_broadcast"
        ));
    }
    if a.game != "consensus" || a.slush.given().is_some() {
        // Flags of the message-passing game, given (a default is not given).
        let consensus_only = [
            ("identity", a.identity != "authenticated"),
            ("comm", a.comm != "agreement"),
            ("synchrony", a.synchrony != "synchronous"),
            ("faults", a.faults.is_some()),
            ("delta", a.delta.is_some()),
            ("gst", a.gst.is_some()),
        ];
        return selfplay::slush_verify::run(&selfplay::slush_verify::Request {
            game: &a.game,
            protocol: a.protocol.as_deref(),
            checkpoint: a.checkpoint.as_deref(),
            n: a.n.ok_or("--n: required for the sampling game")?,
            f: a.f.ok_or("--f: required for the sampling game")?,
            rounds: a.rounds,
            flags: &a.slush,
            json: a.json,
            max_work: a.max_work,
            consensus_only: consensus_only.iter().filter(|x| x.1).map(|x| x.0).collect(),
        });
    }
    let mut trained = None;
    let p: Box<dyn Protocol> = match (&a.protocol, &a.checkpoint) {
        (Some(name), _) => protocols::scripted(name).ok_or_else(|| {
            format!(
                "--protocol {name}: unknown protocol; expected one of {}",
                protocols::names().join(", ")
            )
        })?,
        (None, Some(path)) => {
            let (meta, greedy) = selfplay::explain::greedy_from_checkpoint(path)?;
            // Its training config, read once: the game its views belong to.
            trained = Some((
                path,
                config::parse(&meta.config, &path.display().to_string()),
            ));
            Box::new(greedy)
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let identity = flag("identity", &a.identity)?;
    let comm = flag("comm", &a.comm)?;
    // A network reads its inbox as the identity and communication mode it
    // was trained with: under others, the same bytes mean other things.
    if let Some((path, Ok(exp))) = &trained {
        let (was, asked) = (exp.env.identity, identity);
        if was != asked {
            return Err(format!(
                "--identity {}: {} was trained with identity = \"{}\"; its views mean \
                 something else under {}: verify it with --identity {}",
                asked.name(),
                path.display(),
                was.name(),
                asked.name(),
                was.name()
            ));
        }
        let (was, asked) = (exp.env.comm, comm);
        if was != asked {
            return Err(format!(
                "--comm {}: {} was trained with comm = \"{}\": verify it with --comm {}",
                asked.name(),
                path.display(),
                was.name(),
                was.name()
            ));
        }
    }
    let faults = flag("faults", a.faults.as_deref().unwrap_or("byzantine"))?;
    let synchrony = flag("synchrony", &a.synchrony)?;
    // A checkpoint's own size, unless the flags give one.
    let own = match &trained {
        Some((_, Ok(exp))) => Some((exp.env.n, exp.env.f)),
        _ => None,
    };
    let size = |flag: &str, given: Option<usize>, own: Option<usize>| {
        given
            .or(own)
            .ok_or_else(|| format!("--{flag}: required (the checkpoint's config names none)"))
    };
    let cfg = EnvConfig {
        n: size("n", a.n, own.map(|o| o.0))?,
        f: size("f", a.f, own.map(|o| o.1))?,
        identity,
        comm,
        faults,
        synchrony,
        delta: a.delta,
        gst: a.gst,
        ..EnvConfig::default()
    };
    let spec =
        EnvSpec::new(&cfg, a.rounds.unwrap_or_else(|| p.rounds_for(cfg.f))).map_err(|e| {
            format!(
                "--{} {}: {}",
                e.key.trim_start_matches("env."),
                e.value,
                e.reason
            )
        })?;
    let start = std::time::Instant::now();
    let r = verify(
        &spec,
        &*p,
        &Limits {
            max_work: a.max_work,
        },
    )
    .map_err(|e| e.to_string())?;
    if a.json {
        selfplay::outln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
        return Ok(());
    }
    selfplay::outln!("{} | {}", r.protocol, r.setting);
    selfplay::outln!(
        "optimal attack rate: {} ({} of {} instances broken)",
        r.optimal_attack_rate,
        r.broken_instances,
        r.instances
    );
    selfplay::outln!(
        "verified: {} (every placement, input vector and adversary choice searched: {} protocol evaluations, {:.3} s)",
        if r.verified { "yes" } else { "no" },
        r.evaluations,
        start.elapsed().as_secs_f64()
    );
    if let Some(why) = spec.impossibility() {
        selfplay::outln!("note: {why}");
    }
    if let Some(cex) = r.counterexample {
        selfplay::out!("{}", cex.render());
    }
    Ok(())
}

impl RunArgs {
    /// The overrides, `--seed N` being `--set seed=N`: one path for all.
    fn sets(&self) -> Vec<String> {
        let mut sets = self.sets.clone();
        sets.extend(self.seed.map(|seed| format!("seed={seed}")));
        sets
    }

    /// What to do with an earlier run's files in the run folder.
    fn mode(&self) -> Mode {
        if self.resume {
            Mode::Resume
        } else if self.overwrite {
            Mode::Overwrite
        } else {
            Mode::Fresh
        }
    }

    /// `--resume` for a kind of run that keeps no state: refused, not ignored.
    fn no_resume(&self, what: &str) -> Result<(), String> {
        if self.resume {
            return Err(format!(
                "--resume: {what} keep no state to go on from; run again with --overwrite to start over"
            ));
        }
        Ok(())
    }

    /// The run folder: `--out`, or `results/<name>`.
    fn out(&self, name: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results").join(name))
    }
}

fn harden_cmd(a: RunArgs) -> Result<(), String> {
    let path = a.file.as_ref().ok_or("harden needs an experiment file")?;
    let res = config::load_with(path, &a.sets()).map_err(|e| e.to_string())?;
    a.no_resume("harden runs")?;
    let out = a.out(res.name());
    let _folder = folder::open(&out, a.mode()).map_err(|e| format!("{e:#}"))?;
    one_thread_inside_runs();
    let say = selfplay::run::sayer(a.quiet);
    selfplay::harden::harden(&res, &out, &say).map_err(|e| format!("{e:#}"))?;
    Ok(())
}

fn run_cmd(a: RunArgs) -> Result<(), String> {
    let job = match &a.file {
        Some(path) => config::load_job(path, &a.sets()).map_err(|e| e.to_string())?,
        None => {
            let origin = "built-in default";
            let mut exp = config::parse_with(config::DEFAULT, origin, &a.sets())
                .map_err(|e| e.to_string())?;
            exp.name.get_or_insert_with(|| config::DEFAULT_NAME.into());
            config::job(exp).map_err(|e| format!("{origin}: {e}"))?
        }
    };
    if !job.trains() {
        a.no_resume("evaluation runs")?;
    }
    let out = a.out(job.name());
    let _folder = folder::open(&out, a.mode()).map_err(|e| format!("{e:#}"))?;
    if a.resume && !selfplay::runner::can_resume(job.exp(), &out).map_err(|e| format!("{e:#}"))? {
        return Err(format!(
            "--resume: {} holds no saved state ({}) to go on from",
            out.display(),
            selfplay::runner::STATE
        ));
    }
    if job.trains() {
        one_thread_inside_runs();
    }
    job.run(&out, a.quiet, a.resume)
        .map_err(|e| format!("{e:#}"))?;
    Ok(())
}

/// One thread inside a training run (candle reads this variable): runs
/// parallelise across each other instead. Set before any thread starts.
fn one_thread_inside_runs() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Verify(a)) => verify_cmd(*a),
        Some(Command::Synthesize(a)) => selfplay::rb_synth::run(&a),
        Some(Command::Sweep {
            file,
            list,
            index,
            jobs,
            sets,
            root,
        }) => {
            one_thread_inside_runs();
            let opt = selfplay::sweep::Options { list, index, jobs };
            selfplay::sweep::sweep(&file, &sets, &root, &opt).map_err(|e| format!("{e:#}"))
        }
        Some(Command::Harden(a)) => harden_cmd(a),
        Some(Command::Explain {
            checkpoint,
            max_work: _,
        }) if selfplay::rb_explain::is_rb(&checkpoint) => {
            selfplay::rb_explain::explain(&checkpoint).map(|text| selfplay::out!("{text}"))
        }
        Some(Command::Explain {
            checkpoint,
            max_work: _,
        }) if selfplay::slush_explain::is_slush(&checkpoint) => {
            selfplay::slush_explain::explain(&checkpoint).map(|text| selfplay::out!("{text}"))
        }
        Some(Command::Explain {
            checkpoint,
            max_work,
        }) => selfplay::explain::from_checkpoint(&checkpoint)
            .and_then(|(spec, p)| selfplay::explain::explain(&spec, &p, &Limits { max_work }))
            .map(|text| selfplay::out!("{text}")),
        Some(Command::Plot { run }) => selfplay::plot::plot(&run)
            .map(|svg| selfplay::outln!("wrote {}", svg.display()))
            .map_err(|e| format!("{e:#}")),
        Some(Command::Bench { quick, json, only }) => {
            // Every figure is per core: one thread for candle and rayon alike.
            one_thread_inside_runs();
            match only {
                Some(which) => selfplay::bench::only(&which, quick),
                None => {
                    selfplay::bench::run(quick, json);
                    Ok(())
                }
            }
        }
        None => run_cmd(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
