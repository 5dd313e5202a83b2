//! `selfplay synthesize`: every program of RB-Learner's grammar verified
//! exactly ([`envs::broadcast::synth`]), the verified ones ranked by messages
//! sent. The output does not depend on `--jobs`.

use clap::Args;
use envs::broadcast::{synth, RbFaults, Semantics};

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
    /// Keep only the programs verified at --n whose safety is also proved
    /// for every n > 3t (threshold automata, TACO and z3) and that are
    /// verified by the explicit search at every size up to 7 (f the most
    /// each n tolerates), cheapest first.
    #[arg(long)]
    pub all_n: bool,
}

/// Checks the flags, synthesizes, prints.
pub fn run(a: &SynthArgs) -> Result<(), String> {
    let spec = crate::games::broadcast::verify::spec_from_flags(a.n, a.f, &a.faults, a.semantics)?;
    // The classes to share are known only inside the synthesis, which
    // starts no more threads than it has classes.
    let jobs = crate::sweep::threads(a.jobs, usize::MAX)?;
    let limits = crate::games::broadcast::verify::limits_from_flag(a.max_states);
    if a.all_n && (spec.semantics != Semantics::Single || spec.faults != RbFaults::Byzantine) {
        return Err(format!(
            "--all-n: the threshold automata model Byzantine faults under the single \
             semantics; --faults {} --semantics {} has none yet (docs/reliable_broadcast.md)",
            spec.faults.name(),
            spec.semantics.name()
        ));
    }
    let start = std::time::Instant::now();
    let r = synth::synthesize(&spec, jobs, &limits).map_err(|e| e.to_string())?;
    if a.all_n {
        return all_n(&spec, &r, &limits, start);
    }
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

/// `--all-n`: the programs verified at the flags' size, then those whose
/// threshold form (`threshold::of_program`) is proved safe for every
/// n > 3t, then those the explicit search verifies at every larger size
/// up to `MAX_N` with the most faults each tolerates, cheapest first. A
/// program broken at the flags' size cannot survive, so only the verified
/// ones go to TACO. Prints how many pass each step and the time.
fn all_n(
    spec: &envs::broadcast::RbSpec,
    r: &synth::Synthesis,
    limits: &envs::broadcast::search::Limits,
    start: std::time::Instant,
) -> Result<(), String> {
    use envs::broadcast::{game::MAX_N, grammar, threshold, RbSpec};
    let programs = grammar::enumerate();
    let guarded = programs
        .iter()
        .filter(|p| threshold::of_program(p).is_some())
        .count();
    crate::outln!(
        "RB-Learner's grammar for every n | from n = {}, f = {}, {} faults, single semantics",
        spec.n,
        spec.f,
        spec.faults.name()
    );
    crate::outln!(
        "programs: {}; threshold-guarded: {guarded}; verified at n = {}, f = {} (explicit \
         search): {}",
        r.programs,
        spec.n,
        spec.f,
        r.verified_programs
    );
    let mut proved = 0;
    let mut survivors = vec![];
    for x in &r.verified {
        let p = &programs[x.rank - 1];
        let Some(form) = threshold::of_program(p) else {
            crate::outln!("  number {}: not threshold-guarded, dropped", x.rank);
            continue;
        };
        let safe = super::alln::prove(&format!("program {}", x.rank), &form)?;
        if !(safe.proved("agreement") && safe.proved("correct_sender")) {
            crate::outln!(
                "  number {}: safety not proved for every n, dropped",
                x.rank
            );
            continue;
        }
        proved += 1;
        let mut live = true;
        for n in spec.n + 1..=MAX_N {
            let at = RbSpec::new(n, (n - 1) / 3, spec.faults)
                .map_err(|(key, why)| format!("{key}: {why}"))?;
            let v = envs::broadcast::synth::check(&at, p, limits).map_err(|e| e.to_string())?;
            if !v.verified {
                crate::outln!(
                    "  number {}: broken at n = {n}, f = {} ({}), dropped",
                    x.rank,
                    at.f,
                    v.broken_at.unwrap_or_default()
                );
                live = false;
                break;
            }
        }
        if live {
            survivors.push(x);
        }
    }
    crate::outln!("safety proved for every n > 3t: {proved}");
    crate::outln!(
        "verified at every n from {} to {MAX_N} and safe for every n: {} of {}",
        spec.n,
        survivors.len(),
        r.programs
    );
    for x in survivors {
        crate::outln!(
            "  {:>3} messages, number {:>6}: {}",
            x.messages,
            x.rank,
            x.program
        );
    }
    crate::outln!("time: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
