//! Safety for every n (issue 28): a protocol's threshold automata
//! ([`envs::broadcast::ta`]) checked by TACO's SMT model checker, which
//! runs z3 as a subprocess. `selfplay verify --game reliable_broadcast
//! --protocol NAME --all-n` and `selfplay export-ta` are built on it.
//!
//! The TACO crates live here, in the root crate beside the command line
//! that starts z3: `envs` stays a library of games and exact searches that
//! starts no process (the threshold form and the `.ta` text are there).

use envs::broadcast::ta::{self, Automaton, Sender};
use envs::broadcast::threshold::ThresholdForm;
use envs::broadcast::{protocols, Semantics};
use serde::Serialize;
use std::time::Instant;
use taco_model_checker::preprocessing::ExistingPreprocessors;
use taco_model_checker::{ModelChecker, ModelCheckerResult};
use taco_parser::bymc::ByMCParser;
use taco_parser::ParseTAWithLTL;
use taco_smt_encoder::SMTSolverBuilderCfg;
use taco_smt_model_checker::{SMTModelChecker, SMTModelCheckerOptions};
use taco_threshold_automaton::expressions::{Parameter, Variable};
use taco_threshold_automaton::path::Path as TaPath;
use taco_threshold_automaton::RuleDefinition;

/// What to say when z3 is missing: the Debian package that brings it.
pub const Z3_MISSING: &str = "z3 is not on PATH: the proof for every n runs the z3 SMT solver \
     (TACO starts it as a subprocess); install Debian's package `z3` (apt-get install -y z3)";

/// Checks that z3 can be started; the error names the package.
pub fn z3_present() -> Result<(), String> {
    match std::process::Command::new("z3").arg("-version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(Z3_MISSING.to_string()),
    }
}

/// The most seconds z3 may take on one automaton: past it z3 stops, TACO
/// gives up, and the properties of that automaton are unknown (never
/// proved).
pub const Z3_SECONDS: u32 = 120;

/// TACO's z3 configuration with a hard timeout.
fn z3_cfg(seconds: u32) -> SMTSolverBuilderCfg {
    let args = ["-smt2", "-in", "-v:0"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("-T:{seconds}")])
        .collect();
    SMTSolverBuilderCfg::new("z3".into(), args, vec![], true)
}

/// A property's answer for every n.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// Proved by TACO in every automaton it is written for.
    Proved,
    /// Refuted in one automaton, with TACO's path.
    Refuted(Counterexample),
    /// TACO could not tell.
    Unknown { sender: String },
}

/// TACO's counterexample in the project's words.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// Who the sender is (`byzantine_sender`, `sender_0`, `sender_1`).
    pub sender: String,
    pub n: u32,
    /// The protocol's bound (the game's f).
    pub t: u32,
    /// The Byzantine agents in the run (at most t).
    pub f: u32,
    /// The moves, one line each: how many correct agents, from where, did what.
    pub path: Vec<String>,
}

/// One automaton checked.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    pub sender: String,
    pub locations: usize,
    pub rules: usize,
    pub secs: f64,
}

/// Every safety property of one protocol, for every n.
#[derive(Clone, Debug, Serialize)]
pub struct AllN {
    pub protocol: String,
    /// `single` or `per_message`.
    pub semantics: String,
    /// Whether the rules are symmetric in the values (then the correct
    /// sender's automaton with input 1 is not built: input 0's answers).
    pub symmetric: bool,
    /// agreement (single semantics only) and correct_sender, in that order.
    pub properties: Vec<(String, Outcome)>,
    pub automata: Vec<Checked>,
    pub secs: f64,
}

impl AllN {
    pub fn outcome(&self, property: &str) -> Option<&Outcome> {
        self.properties
            .iter()
            .find(|(p, _)| p == property)
            .map(|(_, o)| o)
    }

    pub fn proved(&self, property: &str) -> bool {
        matches!(self.outcome(property), Some(Outcome::Proved))
    }
}

/// The threshold form of a scripted protocol, or why it has none.
pub fn form_of(name: &str) -> Result<ThresholdForm, String> {
    if protocols::scripted(name).is_none() {
        return Err(format!(
            "--protocol {name}: unknown reliable-broadcast protocol; expected one of {}",
            protocols::names().join(", ")
        ));
    }
    protocols::threshold_form(name).ok_or_else(|| {
        format!(
            "--protocol {name}: not threshold-guarded (its decisions read more than INIT read \
             and counts against thresholds), so it has no threshold automaton"
        )
    })
}

/// Checks one automaton's specifications with TACO: per property, SAFE,
/// a path, or unknown.
fn check(a: &Automaton, props: &[&str], seconds: u32) -> Result<Vec<(String, Outcome)>, String> {
    let res = check_text(&a.name, &a.bymc(props), seconds)?;
    // TACO's path may be at any n: look again for a small one (the
    // smallest n tried that breaks the property; TACO's first otherwise).
    let small = |name: &str| -> Option<Counterexample> {
        [4, 7, 10, 13].into_iter().find_map(|n| {
            let bounded = Automaton {
                max_n: Some(n),
                ..a.clone()
            };
            match check_text(&a.name, &bounded.bymc(&[name]), seconds) {
                Ok(ModelCheckerResult::UNSAFE(v)) => {
                    v.first().map(|(_, path)| counterexample(a, name, path))
                }
                _ => None,
            }
        })
    };
    let mut out: Vec<(String, Outcome)> = props
        .iter()
        .map(|p| (p.to_string(), Outcome::Proved))
        .collect();
    match res {
        ModelCheckerResult::SAFE => {}
        ModelCheckerResult::UNSAFE(violations) => {
            for (name, path) in violations {
                if let Some(slot) = out.iter_mut().find(|(p, _)| *p == name) {
                    let c = small(&name).unwrap_or_else(|| counterexample(a, &name, &path));
                    slot.1 = Outcome::Refuted(c);
                }
            }
        }
        ModelCheckerResult::UNKNOWN(unknown) => {
            for name in unknown {
                if let Some(slot) = out.iter_mut().find(|(p, _)| *p == name) {
                    slot.1 = Outcome::Unknown {
                        sender: a.sender.name(),
                    };
                }
            }
        }
    }
    Ok(out)
}

/// TACO's SMT model checker on a `.ta` text (`name` for errors).
pub fn check_text(name: &str, text: &str, seconds: u32) -> Result<ModelCheckerResult, String> {
    let (ta, spec) = ByMCParser::new()
        .parse_ta_and_spec(text)
        .map_err(|e| format!("{}: TACO does not parse the export: {e}", name))?;
    let preprocessors = [
        ExistingPreprocessors::DropSelfLoops,
        ExistingPreprocessors::DropUnreachableLocations,
        ExistingPreprocessors::CheckInitCondSatSMT,
        ExistingPreprocessors::ReplaceTrivialGuardsSMT,
    ]
    .into_iter()
    .map(|p| p.into())
    .collect();
    let mc = SMTModelChecker::new(
        Some(z3_cfg(seconds)),
        SMTModelCheckerOptions::default(),
        preprocessors,
        ta,
        spec.into_iter(),
    )
    .map_err(|e| format!("{}: TACO's model checker: {e}", name))?;
    mc.verify(false)
        .map_err(|e| format!("{name}: TACO's model checker: {e}"))
}

/// TACO's path in the project's words: the sizes, then per move how many
/// correct agents moved, from which local state, doing what.
/// The path stops where `property` is first broken.
fn counterexample(a: &Automaton, property: &str, path: &TaPath) -> Counterexample {
    let dlv = |c: &taco_threshold_automaton::path::Configuration, v: u8| {
        c.get_variable_value(&Variable::new(format!("dlv{v}"))) > 0
    };
    let broken = |c: &taco_threshold_automaton::path::Configuration| match (property, a.sender) {
        ("correct_sender", Sender::Correct(v)) => dlv(c, 1 - v),
        ("correct_sender", Sender::NotInput(v)) => dlv(c, v),
        _ => dlv(c, 0) && dlv(c, 1),
    };
    let param = |p: &str| path.get_parameter_value(&Parameter::new(p)).unwrap_or(0);
    let configs: Vec<_> = path.configurations().collect();
    let mut lines = vec![];
    for (k, tr) in path.transitions().enumerate() {
        let rule = tr.rule();
        let Some(e) = a.edges.get(rule.id() as usize) else {
            continue;
        };
        let (before, after) = (configs[k], configs[k + 1]);
        let target = rule.target().clone();
        let times = after
            .get_processes_in_location(&target)
            .saturating_sub(before.get_processes_in_location(&target));
        if times == 0 {
            continue;
        }
        let agents = if times == 1 { "agent" } else { "agents" };
        lines.push(format!(
            "{times} correct {agents} ({}): {}",
            a.locations[e.from].describe(),
            e.what
        ));
        if broken(after) {
            break;
        }
    }
    Counterexample {
        sender: a.sender.name(),
        n: param("N"),
        t: param("T"),
        f: param("F"),
        path: lines,
    }
}

/// Proves (or refutes) every safety property of `form` for every n > 3t,
/// t >= f, under the single semantics: agreement in all three automata,
/// correct-sender safety in the two with a correct sender.
pub fn prove(name: &str, form: &ThresholdForm) -> Result<AllN, String> {
    prove_within(name, form, Semantics::Single, Z3_SECONDS)
}

/// The automata that answer for a form under `semantics`: with rules
/// symmetric in the values, a correct sender with input 1 (per message,
/// value 1's broadcast) is input 0's renamed, so one answers for both.
pub fn senders(semantics: Semantics, symmetric: bool) -> &'static [Sender] {
    match (semantics, symmetric) {
        (Semantics::Single, true) => &[Sender::Byzantine, Sender::Correct(0)],
        (Semantics::Single, false) => &Sender::ALL,
        (Semantics::PerMessage, true) => &[Sender::NotInput(0)],
        (Semantics::PerMessage, false) => &Sender::PER_MESSAGE,
    }
}

/// [`prove`] under `semantics`, with z3 stopped after `seconds` on each
/// automaton. Per message the one safety property is correct-sender
/// safety (two values may both be delivered), in the automata of
/// [`Sender::PER_MESSAGE`]; a form whose rule about one value reads
/// another's evidence is refused, naming the rule.
pub fn prove_within(
    name: &str,
    form: &ThresholdForm,
    semantics: Semantics,
    seconds: u32,
) -> Result<AllN, String> {
    z3_present()?;
    let start = Instant::now();
    let single = semantics == Semantics::Single;
    let mut properties: Vec<(String, Outcome)> = vec![];
    if single {
        properties.push(("agreement".into(), Outcome::Proved));
    }
    properties.push(("correct_sender".into(), Outcome::Proved));
    if !single {
        for v in 0..2 {
            ta::per_message_rules(form, v).map_err(|r| {
                format!(
                    "{name}: under the per-message semantics a rule about {v} reads only {v}'s \
                     evidence, but this one reads another value's: {r}"
                )
            })?;
        }
    }
    let mut automata = vec![];
    let senders = senders(semantics, form.symmetric());
    // Each automaton on a thread of its own (z3 runs beside), answers in
    // the order of `senders`.
    let one = |sender: Sender| -> Result<(Checked, Vec<(String, Outcome)>), String> {
        let t0 = Instant::now();
        let a = ta::build(name, form, sender);
        // With a correct sender, agreement follows from correct-sender
        // safety (every correct agent delivers its input or nothing), so
        // it is checked there only when correct-sender safety falls.
        let mut answers = match sender {
            Sender::Byzantine => check(&a, &["agreement"], seconds)?,
            Sender::Correct(_) | Sender::NotInput(_) => check(&a, &["correct_sender"], seconds)?,
        };
        let fell = answers
            .iter()
            .any(|(p, o)| p == "correct_sender" && !matches!(o, Outcome::Proved));
        if fell && single {
            answers.extend(check(&a, &["agreement"], seconds)?);
        }
        let checked = Checked {
            sender: sender.name(),
            locations: a.locations.len(),
            rules: a.edges.len(),
            secs: t0.elapsed().as_secs_f64(),
        };
        Ok((checked, answers))
    };
    let results: Vec<Result<_, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = senders
            .iter()
            .map(|&sender| scope.spawn(move || one(sender)))
            .collect();
        handles
            .into_iter()
            .zip(senders)
            .map(|(h, &sender)| {
                // TACO panics when z3 stops (its timeout, or a failure):
                // that automaton's properties are unknown.
                h.join().unwrap_or_else(|_| {
                    let props = ta::properties(sender);
                    let unknown = Outcome::Unknown {
                        sender: sender.name(),
                    };
                    let a = ta::build(name, form, sender);
                    let checked = Checked {
                        sender: sender.name(),
                        locations: a.locations.len(),
                        rules: a.edges.len(),
                        secs: start.elapsed().as_secs_f64(),
                    };
                    let answers = props.iter().map(|p| (p.to_string(), unknown.clone()));
                    Ok((checked, answers.collect()))
                })
            })
            .collect()
    });
    for result in results {
        let (checked, answers) = result?;
        automata.push(checked);
        for (p, o) in answers {
            let slot = properties.iter_mut().find(|(q, _)| *q == p).expect("named");
            // The first refutation stands; unknown unless refuted elsewhere.
            match (&slot.1, &o) {
                (Outcome::Refuted(_), _) => {}
                (_, Outcome::Refuted(_)) | (Outcome::Proved, Outcome::Unknown { .. }) => slot.1 = o,
                _ => {}
            }
        }
    }
    Ok(AllN {
        protocol: name.to_string(),
        semantics: semantics.name().to_string(),
        symmetric: form.symmetric(),
        properties,
        automata,
        secs: start.elapsed().as_secs_f64(),
    })
}

/// The answer as text, as `verify --all-n` prints it.
pub fn render(r: &AllN) -> String {
    let per_message = r.semantics == Semantics::PerMessage.name();
    let mut s = format!(
        "{} | reliable_broadcast, {} semantics, every n > 3t with t >= f Byzantine (threshold \
         automata, TACO's SMT model checker with z3)\n",
        r.protocol, r.semantics
    );
    let shapes: Vec<String> = r
        .automata
        .iter()
        .map(|a| {
            format!(
                "{} ({} locations, {} rules, {:.2} s)",
                a.sender, a.locations, a.rules, a.secs
            )
        })
        .collect();
    s += &format!("automata: {}\n", shapes.join("; "));
    if r.symmetric && per_message {
        s += "the rules are symmetric in the values: sender_not_0's automaton answers for \
              sender_not_1\n";
    } else if r.symmetric {
        s += "the rules are symmetric in the values: sender_0's automaton answers for sender_1\n";
    }
    if per_message {
        s += "agreement: not a property per message (each value is a broadcast of its own; \
              two values may both be delivered)\n";
    } else {
        s += "agreement with a correct sender follows from correct-sender safety where it holds\n";
    }
    for (p, o) in &r.properties {
        let what = match p.as_str() {
            "agreement" => "agreement (no two correct agents deliver different values)",
            _ => "correct-sender safety (no correct agent delivers a value other than a correct sender's)",
        };
        match o {
            Outcome::Proved => s += &format!("{what}: proved for every n > 3t (TACO)\n"),
            Outcome::Unknown { sender } => {
                s += &format!("{what}: unknown (TACO could not tell with {sender})\n")
            }
            Outcome::Refuted(c) => {
                s += &format!(
                    "{what}: refuted (TACO) with {} at n = {}, t = {}, f = {}:\n",
                    c.sender.replace('_', " "),
                    c.n,
                    c.t,
                    c.f
                );
                for (k, line) in c.path.iter().enumerate() {
                    s += &format!("  {}. {line}\n", k + 1);
                }
            }
        }
    }
    s += "integrity (at most once): by construction for every n (a location records its \
          delivery; no rule delivers from a delivered location)\n";
    let live = if per_message {
        "sender_validity, message_totality"
    } else {
        "validity, totality"
    };
    s += &format!(
        "{live}: not checked for every n (TACO checks no liveness): the explicit search, \
         selfplay verify --n N --f F (n <= {})\n",
        envs::broadcast::game::MAX_N
    );
    s += &format!("time: {:.2} s\n", r.secs);
    s
}

/// The flags of `selfplay export-ta`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// A scripted reliable-broadcast protocol that is threshold-guarded.
    #[arg(long)]
    pub protocol: String,
    /// Whose automaton: byzantine_sender, sender_0 or sender_1 (a correct
    /// sender with that input); per message, sender_not_0 or sender_not_1
    /// (value v's broadcast, which a correct sender with the other input
    /// never makes).
    #[arg(long, default_value = "byzantine_sender")]
    pub sender: String,
    /// Write the file here instead of printing it.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// `selfplay export-ta`: the protocol's threshold automaton in ByMC's
/// `.ta` format, which TACO and ByMC read.
pub fn export(a: &ExportArgs) -> Result<(), String> {
    let form = form_of(&a.protocol)?;
    let sender = Sender::parse(&a.sender).ok_or_else(|| {
        format!(
            "--sender {}: expected byzantine_sender, sender_0, sender_1, sender_not_0 or \
             sender_not_1",
            a.sender
        )
    })?;
    if let Sender::NotInput(v) = sender {
        ta::per_message_rules(&form, v).map_err(|r| {
            format!(
                "--sender {}: under the per-message semantics a rule about {v} reads only \
                 {v}'s evidence, but {} has one that reads another value's: {r}",
                a.sender, a.protocol
            )
        })?;
    }
    let text = ta::build(&a.protocol, &form, sender).bymc(&[]);
    match &a.out {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            crate::out!("{text}");
            Ok(())
        }
    }
}

/// `verify --all-n`: proves and prints (text or JSON), for Byzantine
/// faults under `semantics`, z3 stopped after `z3_seconds` per automaton.
pub fn run(
    protocol: Option<&str>,
    checkpoint: Option<&std::path::Path>,
    semantics: Semantics,
    faults: Option<&str>,
    z3_seconds: u32,
    json: bool,
) -> Result<(), String> {
    if let Some(f) = faults.filter(|&f| f != "byzantine") {
        return Err(format!(
            "--all-n with --faults {f}: the threshold automata model Byzantine faults only \
             (docs/reliable_broadcast.md); the explicit search answers crash faults at each n"
        ));
    }
    let (name, form) = match (checkpoint, protocol) {
        (Some(path), _) if semantics != Semantics::Single => {
            return Err(format!(
                "--all-n --checkpoint {} --semantics {}: a learned protocol is read as rules \
                 under the semantics it plays, single",
                path.display(),
                semantics.name()
            ))
        }
        (Some(path), _) => (
            path.display().to_string(),
            super::explain::threshold_form(path)?,
        ),
        (None, Some(name)) => (name.to_string(), form_of(name)?),
        (None, None) => return Err("--all-n: needs --protocol NAME or --checkpoint FILE".into()),
    };
    let name = name.as_str();
    let r = prove_within(name, &form, semantics, z3_seconds)?;
    if json {
        crate::outln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
    } else {
        crate::out!("{}", render(&r));
    }
    Ok(())
}
