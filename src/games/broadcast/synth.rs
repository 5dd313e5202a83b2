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
    /// With --all-n: also prove or refute for every n every threshold-
    /// guarded program of the grammar, correct at --n or not, and print the
    /// counts (programs with the same automata share one proof). Per
    /// message it takes minutes; under the single semantics hours (some
    /// automata take z3 minutes each).
    #[arg(long, requires = "all_n")]
    pub census: bool,
}

/// Checks the flags, synthesizes, prints.
pub fn run(a: &SynthArgs) -> Result<(), String> {
    let spec = crate::games::broadcast::verify::spec_from_flags(a.n, a.f, &a.faults, a.semantics)?;
    // The classes to share are known only inside the synthesis, which
    // starts no more threads than it has classes.
    let jobs = crate::sweep::threads(a.jobs, usize::MAX)?;
    let limits = crate::games::broadcast::verify::limits_from_flag(a.max_states);
    if a.all_n && spec.faults != RbFaults::Byzantine {
        return Err(format!(
            "--all-n: the threshold automata model Byzantine faults; --faults {} has none yet \
             (docs/reliable_broadcast.md)",
            spec.faults.name()
        ));
    }
    let start = std::time::Instant::now();
    let r = synth::synthesize(&spec, jobs, &limits).map_err(|e| e.to_string())?;
    if a.all_n {
        return all_n(a, &spec, &r, &limits, start);
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

/// `--all-n`'s answer.
#[derive(serde::Serialize)]
struct ForEveryN {
    n: usize,
    f: usize,
    faults: &'static str,
    semantics: &'static str,
    programs: usize,
    threshold_guarded: usize,
    verified: usize,
    /// Of the verified: safety proved for every n > 3t.
    safe_for_every_n: usize,
    /// Of those: verified by the explicit search at every n up to MAX_N,
    /// cheapest first (messages, program).
    survivors: Vec<synth::Found>,
    /// Each verified program dropped, and why.
    dropped: Vec<String>,
    census: Option<Census>,
}

/// `--census`: every threshold-guarded program proved or refuted for
/// every n, correct or not.
#[derive(serde::Serialize)]
struct Census {
    /// Distinct automata: programs with the same automata (the same text)
    /// share TACO's answer, so each is proved once.
    automata: usize,
    proved_programs: usize,
    proved_automata: usize,
    refuted_programs: usize,
    unknown_programs: usize,
}

/// `--all-n`: the programs verified at the flags' size, then those whose
/// threshold form (`threshold::of_program`) is proved safe for every
/// n > 3t, then those the explicit search verifies at every larger size
/// up to `MAX_N` with the most faults each tolerates, cheapest first. A
/// program broken at the flags' size cannot survive, so only the verified
/// ones go to TACO. Prints how many pass each step and the time; with
/// `census`, also proves or refutes every threshold-guarded program.
fn all_n(
    a: &SynthArgs,
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
    let mut out = ForEveryN {
        n: spec.n,
        f: spec.f,
        faults: spec.faults.name(),
        semantics: spec.semantics.name(),
        programs: r.programs,
        threshold_guarded: guarded,
        verified: r.verified_programs,
        safe_for_every_n: 0,
        survivors: vec![],
        dropped: vec![],
        census: None,
    };
    for x in &r.verified {
        let p = &programs[x.rank - 1];
        let Some(form) = threshold::of_program(p) else {
            out.dropped
                .push(format!("number {}: not threshold-guarded", x.rank));
            continue;
        };
        let name = format!("program {}", x.rank);
        let safe =
            super::alln::prove_within(&name, &form, spec.semantics, super::alln::Z3_SECONDS)?;
        if !safe.properties.iter().all(|(p, _)| safe.proved(p)) {
            out.dropped
                .push(format!("number {}: safety not proved for every n", x.rank));
            continue;
        }
        out.safe_for_every_n += 1;
        let mut live = true;
        for n in spec.n + 1..=MAX_N {
            let at = RbSpec::new(n, (n - 1) / 3, spec.faults)
                .map_err(|(key, why)| format!("{key}: {why}"))?
                .with_semantics(spec.semantics);
            let v = envs::broadcast::synth::check(&at, p, limits).map_err(|e| e.to_string())?;
            if !v.verified {
                out.dropped.push(format!(
                    "number {}: broken at n = {n}, f = {} ({})",
                    x.rank,
                    at.f,
                    v.broken_at.unwrap_or_default()
                ));
                live = false;
                break;
            }
        }
        if live {
            out.survivors.push(x.clone());
        }
    }
    if a.census {
        out.census = Some(census(spec.semantics, &programs)?);
    }
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string(&out).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    crate::outln!(
        "RB-Learner's grammar for every n | from n = {}, f = {}, {} faults, {} semantics",
        out.n,
        out.f,
        out.faults,
        out.semantics
    );
    crate::outln!(
        "programs: {}; threshold-guarded: {guarded}; verified at n = {}, f = {} (explicit \
         search): {}",
        out.programs,
        out.n,
        out.f,
        out.verified
    );
    for d in &out.dropped {
        crate::outln!("  {d}, dropped");
    }
    crate::outln!("safety proved for every n > 3t: {}", out.safe_for_every_n);
    crate::outln!(
        "verified at every n from {} to {MAX_N} and safe for every n: {} of {}",
        out.n,
        out.survivors.len(),
        out.programs
    );
    for x in &out.survivors {
        crate::outln!(
            "  {:>3} messages, number {:>6}: {}",
            x.messages,
            x.rank,
            x.program
        );
    }
    if let Some(c) = &out.census {
        crate::outln!(
            "census of the {guarded} threshold-guarded programs ({} automata): safety proved \
             for every n: {} programs ({} automata); refuted: {}; unknown: {}",
            c.automata,
            c.proved_programs,
            c.proved_automata,
            c.refuted_programs,
            c.unknown_programs
        );
    }
    crate::outln!("time: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Every threshold-guarded program of the grammar proved or refuted for
/// every n under `semantics`, one TACO run per distinct set of automata.
fn census(
    semantics: Semantics,
    programs: &[envs::broadcast::grammar::Program],
) -> Result<Census, String> {
    use envs::broadcast::ta;
    use envs::broadcast::threshold;
    use std::collections::BTreeMap;
    let mut by_automata: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (k, p) in programs.iter().enumerate() {
        if let Some(form) = threshold::of_program(p) {
            // The automata `alln::prove_within` builds for this form.
            let text: String = super::alln::senders(semantics, form.symmetric())
                .iter()
                .map(|&s| ta::build("p", &form, s).bymc(&[]))
                .collect();
            by_automata.entry(text).or_insert((k, 0)).1 += 1;
        }
    }
    let mut c = Census {
        automata: by_automata.len(),
        proved_programs: 0,
        proved_automata: 0,
        refuted_programs: 0,
        unknown_programs: 0,
    };
    for &(k, members) in by_automata.values() {
        let form = threshold::of_program(&programs[k]).expect("guarded");
        let r = super::alln::prove_within(
            &format!("program {}", k + 1),
            &form,
            semantics,
            super::alln::Z3_SECONDS,
        )?;
        let outcomes = || r.properties.iter().map(|(_, o)| o);
        if outcomes().all(|o| matches!(o, super::alln::Outcome::Proved)) {
            c.proved_programs += members;
            c.proved_automata += 1;
        } else if outcomes().any(|o| matches!(o, super::alln::Outcome::Refuted(_))) {
            c.refuted_programs += members;
        } else {
            c.unknown_programs += members;
        }
    }
    Ok(c)
}
