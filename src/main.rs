use clap::{Args, Parser, Subcommand};
use envs::consensus::Limits;
use selfplay::folder::RunFlags;
use selfplay::games::Registry;
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
    #[command(flatten)]
    flags: RunFlags,
    /// Go on with a killed training run in the run folder, to the same result.
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Exact optimal attack rate of an honest protocol, with a counterexample.
    Verify(Box<selfplay::games::verify::VerifyArgs>),
    /// Runs an experiment's [sweep]: every seed and grid point, on all cores.
    Sweep {
        /// Experiment file (TOML) with a [sweep] table: its seeds and grid of keys.
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
    /// A game's own command (harden, synthesize), offered by its registry entry.
    #[command(flatten)]
    Game(selfplay::games::commands::GameCommand),
    /// A learned honest checkpoint as a decision table (view -> action); a
    /// sampling-game one as a rule over (round, colour, counts).
    Explain {
        /// A learned honest checkpoint (honest.safetensors or
        /// honest_best.safetensors of a run folder); its game is read from it.
        checkpoint: PathBuf,
        /// The most protocol evaluations the search may make (docs/verifier.md).
        #[arg(long, default_value_t = Limits::default().max_work, value_parser = selfplay::games::verify::parse_max_work)]
        max_work: f64,
        /// Reliable broadcast, a checkpoint of the threshold view
        /// (rb.view = "thresholds"): explain it as it plays at n agents
        /// [default: its training's].
        #[arg(long)]
        n: Option<usize>,
        /// With --n: f faulty agents [default: its training's].
        #[arg(long)]
        f: Option<usize>,
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
        /// Print only the stable figures, as one JSON object: each game's (the consensus
        /// game's engine_episodes_per_s, acting_decisions_per_s and
        /// reinforce_train_episodes_per_s), then acting_distinct_obs_decisions_per_s and
        /// ppo_samples_per_s.
        #[arg(long)]
        json: bool,
        /// Only this figure or table (for profiling), e.g. engine, acting, reinforce, ppo,
        /// acting_distinct, verify or rb_verify; a wrong name lists them all.
        #[arg(long)]
        only: Option<String>,
    },
}

fn run_cmd(a: RunArgs) -> Result<(), String> {
    let job = match &a.file {
        Some(path) => selfplay::games::load_job(path, &a.flags.sets()),
        None => selfplay::games::default_job(&a.flags.sets()),
    }
    .map_err(|e| e.to_string())?;
    selfplay::games::run_in_folder(&*job, &a.flags, a.resume)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Verify(a)) => selfplay::games::verify::verify(&Registry::built_in(), &a.0),
        Some(Command::Game(c)) => selfplay::games::commands::run(&Registry::built_in(), &c),
        Some(Command::Sweep {
            file,
            list,
            index,
            jobs,
            sets,
            root,
        }) => {
            selfplay::runner::one_thread_inside_runs();
            let opt = selfplay::sweep::Options { list, index, jobs };
            selfplay::sweep::sweep(&file, &sets, &root, &opt).map_err(|e| format!("{e:#}"))
        }
        Some(Command::Explain {
            checkpoint,
            max_work,
            n,
            f,
        }) => Registry::built_in()
            .of_checkpoint(&checkpoint)
            .and_then(|game| game.explain_at(&checkpoint, max_work, n, f))
            .map(|text| selfplay::out!("{text}")),
        Some(Command::Plot { run }) => selfplay::plot::plot(&run)
            .map(|svg| selfplay::outln!("wrote {}", svg.display()))
            .map_err(|e| format!("{e:#}")),
        Some(Command::Bench { quick, json, only }) => {
            // Every figure is per core: one thread for candle and rayon alike.
            selfplay::runner::one_thread_inside_runs();
            match only {
                Some(which) => selfplay::bench::only(Registry::built_in().benches(), &which, quick),
                None => {
                    selfplay::bench::run(Registry::built_in().benches(), quick, json);
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
