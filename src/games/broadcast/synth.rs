//! `selfplay synthesize`: every program of RB-Learner's grammar verified
//! exactly ([`envs::broadcast::synth`]), the verified ones ranked by messages
//! sent. The output does not depend on `--jobs`.

use clap::Args;
use envs::broadcast::{synth, Semantics};

/// The flags of `selfplay synthesize`.
#[derive(Args, Debug, Clone)]
pub struct SynthArgs {
    /// Agents (the sender among them).
    #[arg(long)]
    pub n: usize,
    /// Faulty agents, Byzantine or crashed (--faults).
    #[arg(long)]
    pub f: usize,
    /// byzantine or crash.
    #[arg(long, default_value = "byzantine")]
    pub faults: String,
    /// single or per_message (RB-Learner's) [default: single].
    #[arg(long, value_parser = crate::games::broadcast::verify::parse_semantics)]
    pub semantics: Option<Semantics>,
    /// Threads, 1 to 1024 [default: every core].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// The most distinct states searched per instance [default: 20000000].
    #[arg(long)]
    pub max_states: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Checks the flags, synthesizes, prints.
pub fn run(a: &SynthArgs) -> Result<(), String> {
    let spec = crate::games::broadcast::verify::spec_from_flags(a.n, a.f, &a.faults, a.semantics)?;
    // The classes to share are known only inside the synthesis, which
    // starts no more threads than it has classes.
    let jobs = crate::sweep::threads(a.jobs, usize::MAX)?;
    let limits = crate::games::broadcast::verify::limits_from_flag(a.max_states);
    let start = std::time::Instant::now();
    let r = synth::synthesize(&spec, jobs, &limits).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    if a.json {
        // The time is left out: the JSON is the same on every machine.
        crate::outln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
        return Ok(());
    }
    crate::outln!(
        "RB-Learner's grammar | n = {}, f = {}, {} faults, {} semantics",
        r.n,
        r.f,
        r.faults,
        r.semantics
    );
    crate::outln!(
        "programs: {} ({} in their generator's action space); classes acting alike, searched: {}",
        r.programs,
        r.programs_in_their_action_space,
        r.classes
    );
    crate::outln!(
        "verified: {} programs ({} classes; {} in their action space)",
        r.verified_programs,
        r.verified_classes,
        r.verified_in_their_action_space
    );
    match r.first_verified_rank {
        Some(k) => crate::outln!("first verified program: number {k} in enumeration order"),
        None => crate::outln!("first verified program: none"),
    }
    crate::outln!("states searched: {}; time: {secs:.1} s", r.states);
    if !r.verified.is_empty() {
        crate::outln!(
            "verified programs, fewest messages first (fault-free run; reward: RB-Learner's):"
        );
    }
    for x in &r.verified {
        crate::outln!(
            "  {:>3} messages, reward {:>3}, number {:>6}{}: {}",
            x.messages,
            x.rbl_reward,
            x.rank,
            if x.in_their_action_space {
                ""
            } else {
                " (not in their action space)"
            },
            x.program
        );
    }
    Ok(())
}
