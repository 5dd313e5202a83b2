use clap::{Args, Parser, Subcommand};
use envs::{protocols, verify, EnvConfig, EnvSpec, Limits, Protocol, Switch};
use selfplay::config;
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
    /// Overrides the experiment's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Overrides any config key, e.g. --set env.n=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
    /// Go on with a killed training run in the run folder, to the same result.
    #[arg(long)]
    resume: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Exact optimal attack rate of an honest protocol, with a counterexample.
    Verify(VerifyArgs),
    /// Runs an experiment's [sweep]: every seed and grid point, on all cores.
    Sweep {
        file: PathBuf,
        /// Print one command per run (for Slurm arrays, GNU parallel) and exit.
        #[arg(long)]
        list: bool,
        /// Run only the I-th run of the list.
        #[arg(long)]
        index: Option<usize>,
        /// Runs at once (default: every core).
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
    /// A learned honest checkpoint as a decision table (view -> action).
    Explain {
        checkpoint: PathBuf,
        /// Refuse searches bounded above this many protocol evaluations.
        #[arg(long, default_value_t = Limits::default().max_work)]
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
    },
}

#[derive(Args)]
struct VerifyArgs {
    /// Scripted protocol: majority, signed_relay, constant, floodset, vote_commit,
    /// flood_commit or dolev_strong.
    #[arg(
        long,
        required_unless_present = "checkpoint",
        conflicts_with = "checkpoint"
    )]
    protocol: Option<String>,
    /// A learned honest checkpoint, played greedily.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    #[arg(long)]
    n: usize,
    #[arg(long)]
    f: usize,
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
    /// Fault model: byzantine, crash or omission.
    #[arg(long, default_value = "byzantine")]
    faults: String,
    /// Rounds; default: the protocol's own.
    #[arg(long)]
    rounds: Option<u8>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Refuse searches bounded above this many protocol evaluations.
    #[arg(long, default_value_t = Limits::default().max_work)]
    max_work: f64,
}

/// The value of `--name`, or an error listing what it accepts.
fn flag<T: Switch>(name: &str, value: &str) -> Result<T, String> {
    T::parse(value).ok_or_else(|| format!("--{name} {value}: expected {}", T::expected()))
}

fn verify_cmd(a: VerifyArgs) -> Result<(), String> {
    let p: Box<dyn Protocol> = match (&a.protocol, &a.checkpoint) {
        (Some(name), _) => protocols::scripted(name).ok_or_else(|| {
            format!(
                "--protocol {name}: unknown protocol; expected one of {}",
                protocols::SCRIPTED.join(", ")
            )
        })?,
        (None, Some(path)) => Box::new(selfplay::explain::greedy_from_checkpoint(path)?.1),
        (None, None) => unreachable!("clap requires one"),
    };
    let identity = flag("identity", &a.identity)?;
    let comm = flag("comm", &a.comm)?;
    let faults = flag("faults", &a.faults)?;
    let synchrony = flag("synchrony", &a.synchrony)?;
    let cfg = EnvConfig {
        n: a.n,
        f: a.f,
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
        println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
        return Ok(());
    }
    println!("{} | {}", r.protocol, r.setting);
    println!(
        "optimal attack rate: {} ({} of {} instances broken)",
        r.optimal_attack_rate, r.broken_instances, r.instances
    );
    println!(
        "verified: {} (every placement, input vector and adversary choice searched: {} protocol evaluations, {:.3} s)",
        if r.verified { "yes" } else { "no" },
        r.evaluations,
        start.elapsed().as_secs_f64()
    );
    if let Some(why) = spec.impossibility() {
        println!("note: {why}");
    }
    if let Some(cex) = r.counterexample {
        print!("{}", cex.render());
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
    one_thread_inside_runs();
    let say = selfplay::run::sayer(a.quiet);
    selfplay::harden::harden(&res, &a.out(res.name()), &say).map_err(|e| format!("{e:#}"))?;
    Ok(())
}

fn run_cmd(a: RunArgs) -> Result<(), String> {
    let job = match &a.file {
        Some(path) => config::load_job(path, &a.sets()).map_err(|e| e.to_string())?,
        None => {
            let origin = "built-in default";
            let text = config::apply_sets(config::DEFAULT, origin, &a.sets())
                .map_err(|e| e.to_string())?;
            let mut exp = config::parse(&text, origin).map_err(|e| e.to_string())?;
            exp.name.get_or_insert_with(|| config::DEFAULT_NAME.into());
            config::job(exp).map_err(|e| format!("{origin}: {e}"))?
        }
    };
    match job {
        config::Job::Consensus(res) => {
            if res.trains() {
                one_thread_inside_runs();
            }
            selfplay::run::run_with(&res, &a.out(res.name()), a.quiet, a.resume)
                .map_err(|e| format!("{e:#}"))?;
        }
        config::Job::Slush(job) => {
            one_thread_inside_runs();
            let say = selfplay::run::sayer(a.quiet);
            selfplay::slush::run(&job, &a.out(job.name()), &say).map_err(|e| format!("{e:#}"))?;
        }
    }
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
        Some(Command::Verify(a)) => verify_cmd(a),
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
            max_work,
        }) => selfplay::explain::from_checkpoint(&checkpoint)
            .and_then(|(spec, p)| selfplay::explain::explain(&spec, &p, &Limits { max_work }))
            .map(|text| print!("{text}")),
        Some(Command::Plot { run }) => selfplay::plot::plot(&run)
            .map(|svg| println!("wrote {}", svg.display()))
            .map_err(|e| format!("{e:#}")),
        Some(Command::Bench { quick }) => {
            // Every figure is per core: one thread for candle and rayon alike.
            one_thread_inside_runs();
            selfplay::bench::run(quick);
            Ok(())
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
