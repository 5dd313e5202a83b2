//! `selfplay verify --game reliable_broadcast`: the exact search of
//! [`envs::broadcast`] from the command line. The sizes are checked by the game's
//! own `RbSpec`, so a bad setting is named by its flag.

use crate::games::broadcast::game::RbJob;
use crate::games::broadcast::score::Greedy;
use crate::games::Entry as _;
use clap::Args;
use envs::broadcast::search::{self, Limits};
use envs::broadcast::{protocols, RbFaults, RbSpec, Semantics};
use std::path::Path;

/// Reliable broadcast's flags of `selfplay verify` (read with
/// `--game reliable_broadcast`).
#[derive(Args, Debug, Default, Clone)]
pub struct RbFlags {
    /// Reliable broadcast: the most distinct states searched per instance
    /// [default: 20000000].
    #[arg(long)]
    pub max_states: Option<u64>,
    /// Reliable broadcast: single (one broadcast instance, the textbook's)
    /// or per_message (RB-Learner's: each value a broadcast of its own)
    /// [default: single].
    #[arg(long, value_parser = parse_semantics)]
    pub semantics: Option<Semantics>,
    /// Reliable broadcast, with --checkpoint: stop each instance's search
    /// at its first violation, as the learning rows do (whether each
    /// instance is broken is exact, and its counterexample is a shortest
    /// one; only the properties broken there are named).
    #[arg(long)]
    pub first_violation: bool,
    /// Reliable broadcast: prove agreement and correct-sender safety for
    /// every n > 3t (t >= f Byzantine) with TACO and z3, instead of
    /// searching one n (--n and --f are then not needed): of --protocol,
    /// or of --checkpoint (the threshold view's, read as its rules).
    #[arg(long)]
    pub all_n: bool,
    /// Reliable broadcast, with --all-n: the most seconds z3 may take on
    /// one automaton; past it the automaton's properties are unknown
    /// [default: 120].
    #[arg(long, requires = "all_n", value_parser = clap::value_parser!(u32).range(1..=86400))]
    pub z3_seconds: Option<u32>,
}

/// `--semantics`: clap's error names the flag and the value, this the choices.
pub fn parse_semantics(s: &str) -> Result<Semantics, String> {
    Semantics::parse(s).ok_or_else(|| "reliable broadcast has single or per_message".to_string())
}

/// A `verify --game reliable_broadcast` command, as parsed.
pub struct Request<'a> {
    pub protocol: Option<&'a str>,
    /// A learned honest checkpoint, played greedily, instead of `protocol`.
    pub checkpoint: Option<&'a Path>,
    /// `--n`, `--f` and `--faults` as given (a checkpoint's own when not;
    /// a scripted protocol's faults default to byzantine).
    pub n: Option<usize>,
    pub f: Option<usize>,
    pub faults: Option<&'a str>,
    pub json: bool,
    pub flags: &'a RbFlags,
}

/// Checks a request and runs the search.
pub fn solve(req: &Request) -> Result<(RbSpec, search::Report), String> {
    if let Some(path) = req.checkpoint {
        let (spec, greedy, max_states) = learned(path, req)?;
        let limits = checked(&spec, req.flags.max_states.unwrap_or(max_states))?;
        let first = search::Options {
            first_violation: true,
            ..search::Options::default()
        };
        if req.flags.first_violation {
            let report =
                search::verify_with(&spec, &greedy, &limits, &first).map_err(|e| e.to_string())?;
            return Ok((spec, report));
        }
        // A learned protocol that sends much may pass the limit in the
        // whole search and still be refuted within it, as the rows are.
        let report = match search::verify(&spec, &greedy, &limits) {
            Ok(r) => r,
            Err(too_big) => search::verify_with(&spec, &greedy, &limits, &first)
                .map_err(|_| too_big.to_string())?,
        };
        return Ok((spec, report));
    }
    if req.flags.first_violation {
        return Err(
            "--first-violation: only with --checkpoint (a scripted protocol's search \
                    is whole)"
                .into(),
        );
    }
    let name = req
        .protocol
        .ok_or("--protocol: reliable broadcast needs a scripted protocol or --checkpoint")?;
    let p = protocols::scripted(name).ok_or_else(|| {
        format!(
            "--protocol {name}: unknown reliable-broadcast protocol; expected one of {}",
            protocols::names().join(", ")
        )
    })?;
    let (n, f) = req
        .n
        .zip(req.f)
        .ok_or("--n and --f: required with --protocol")?;
    let faults = req.faults.unwrap_or(RbFaults::Byzantine.name());
    let spec = spec_from_flags(n, f, faults, req.flags.semantics)?;
    let limits = checked(&spec, limits_from_flag(req.flags.max_states).max_states)?;
    // Per message the search takes the values apart (`Options::values_apart`).
    let report = search::verify(&spec, p, &limits).map_err(|e| e.to_string())?;
    Ok((spec, report))
}

/// The honest network of a reliable-broadcast checkpoint played greedily,
/// as the learning rows play it, with the game of its config and its
/// `rb.max_states`. `--n`, `--f`, `--faults` and `--semantics` default to
/// its training game, and another faults or semantics is refused. A
/// network of the raw-count view (`rb.view = "counts"`) reads counts up to
/// its own n, so another `--n` or `--f` is refused too; one of the
/// threshold view (`"thresholds"`) sees the same inputs at every n and
/// plays at any `--n` and `--f` the game has (searched with `--max-states`
/// or the verifier's default there, not its training's `rb.max_states`).
fn learned(path: &Path, req: &Request) -> Result<(RbSpec, Greedy, u64), String> {
    let shown = path.display();
    let (c, exp) = crate::games::checkpoint_of(path, super::ENTRY.name())?;
    if c.meta.team != "honest" {
        return Err(format!(
            "--checkpoint {shown}: a {} checkpoint; verify reads an honest one \
             (honest.safetensors or honest_best.safetensors)",
            c.meta.team
        ));
    }
    let job = RbJob::new(exp).map_err(|e| format!("{shown}: its config: {e}"))?;
    let trained_spec = job.spec;
    let trained = |flag: &str, given: String, was: String, why: &str| {
        format!("--{flag} {given}: {shown} was trained with {flag} = {was}; {why}")
    };
    let any_n = job.rb.view.any_n();
    let (n, f) = (
        req.n.unwrap_or(trained_spec.n),
        req.f.unwrap_or(trained_spec.f),
    );
    if !any_n {
        let why = "it reads raw counts up to its own n (rb.view = \"counts\"), so it plays \
                   only in its training game; a checkpoint trained with rb.view = \"thresholds\" or \"quorums\" \
                   plays at any n";
        if n != trained_spec.n {
            return Err(trained("n", n.to_string(), trained_spec.n.to_string(), why));
        }
        if f != trained_spec.f {
            return Err(trained("f", f.to_string(), trained_spec.f.to_string(), why));
        }
    }
    let why = "the flags must match its training (its views mean nothing in another game)";
    if let Some(faults) = req.faults.filter(|&x| x != trained_spec.faults.name()) {
        return Err(trained(
            "faults",
            faults.into(),
            trained_spec.faults.name().into(),
            why,
        ));
    }
    if let Some(s) = req.flags.semantics.filter(|&s| s != trained_spec.semantics) {
        return Err(trained(
            "semantics",
            s.name().into(),
            trained_spec.semantics.name().into(),
            why,
        ));
    }
    let spec = if (n, f) == (trained_spec.n, trained_spec.f) {
        trained_spec
    } else {
        spec_from_flags(
            n,
            f,
            trained_spec.faults.name(),
            Some(trained_spec.semantics),
        )?
    };
    let max_states = match spec == trained_spec {
        true => job.rb.max_states,
        false => Limits::default().max_states,
    };
    let greedy = Greedy::of_checkpoint(path, &c, spec, job.reading())?;
    Ok((spec, greedy, max_states))
}

/// The game the command-line flags name, checked by the game's own
/// `RbSpec`, so a bad setting is named by its flag (`verify` and
/// `synthesize` share it).
pub fn spec_from_flags(
    n: usize,
    f: usize,
    faults: &str,
    semantics: Option<Semantics>,
) -> Result<RbSpec, String> {
    let faults = RbFaults::parse(faults).ok_or_else(|| {
        format!("--faults {faults}: reliable broadcast is built for byzantine or crash faults")
    })?;
    let spec = RbSpec::new(n, f, faults).map_err(|(flag, why)| {
        let value = if flag == "n" { n } else { f };
        format!("--{flag} {value}: {why}")
    })?;
    Ok(spec.with_semantics(semantics.unwrap_or_default()))
}

/// The search's limits from `--max-states`.
pub fn limits_from_flag(max_states: Option<u64>) -> Limits {
    Limits {
        max_states: max_states.unwrap_or(Limits::default().max_states),
        ..Limits::default()
    }
}

/// The limits of one search of `spec` with `max_states`, refused up front
/// when the search could need more memory than it may use: an error then
/// rather than minutes of climbing towards it.
fn checked(spec: &RbSpec, max_states: u64) -> Result<Limits, String> {
    let limits = Limits {
        max_states,
        ..Limits::default()
    };
    limits
        .check(spec)
        .map_err(|why| format!("--max-states {max_states}: {why}"))?;
    Ok(limits)
}

/// Runs a request and prints its answer.
pub fn run(req: &Request) -> Result<(), String> {
    let start = std::time::Instant::now();
    let (spec, r) = solve(req)?;
    if req.json {
        let mut v = serde_json::to_value(&r).map_err(|e| e.to_string())?;
        v["semantics"] = spec.semantics.name().into();
        crate::outln!("{v}");
        return Ok(());
    }
    crate::outln!(
        "{} | reliable_broadcast, n = {}, f = {}, {} faults, {} semantics",
        r.protocol,
        r.n,
        r.f,
        r.faults,
        spec.semantics.name()
    );
    crate::outln!(
        "optimal attack rate: {} ({} of {} instances broken{})",
        r.optimal_attack_rate,
        r.broken_instances,
        r.instances,
        if r.broken.is_empty() {
            String::new()
        } else {
            format!(": {}", r.broken.join(", "))
        }
    );
    // A refutation searched each instance only up to its first violation:
    // the line says so, not that every order was searched.
    let searched = if r.first_violations_only {
        "each instance searched up to its first violation"
    } else {
        "every delivery order and Byzantine injection searched"
    };
    crate::outln!(
        "verified: {} ({searched}: {} states, {:.3} s)",
        if r.verified { "yes" } else { "no" },
        r.states,
        start.elapsed().as_secs_f64()
    );
    if r.first_violations_only {
        crate::outln!(
            "the whole search passed --max-states: each instance's search stopped at its first \
             violation, so the properties named are only those broken there"
        );
    }
    for (k, v) in r.per_instance.iter().enumerate() {
        let inst = envs::broadcast::Instance {
            faulty: v.faulty.iter().fold(0, |m, &i| m | 1 << i),
            input: v.input,
        };
        let broken = if v.broken.is_empty() {
            "holds".to_string()
        } else {
            format!("broken: {}", v.broken.join(", "))
        };
        crate::outln!(
            "  instance {k}: {}: {broken}",
            search::describe(&spec, &inst)
        );
    }
    if let Some(cex) = &r.counterexample {
        crate::out!("{}", cex.render());
    }
    Ok(())
}
