//! Issue 28: reliable-broadcast protocols as threshold automata, safety
//! proved for every n by TACO, and the two verifiers agreeing.
//!
//! These tests run z3 (Debian's package `z3`; `scripts/test` installs it).
//! Without it they fail with that message: never a silent skip.

use envs::broadcast::protocols::{self, REGISTRY};
use envs::broadcast::search::{self, Limits};
use envs::broadcast::ta::{self, Sender};
use envs::broadcast::threshold::{self, ThresholdForm};
use envs::broadcast::{grammar, RbFaults, RbProtocol, RbSpec, Semantics};
use selfplay::games::broadcast::alln::{self, Outcome};
use std::collections::BTreeMap;
use std::time::Instant;
use taco_parser::bymc::ByMCParser;
use taco_parser::ParseTAWithLTL;
use taco_threshold_automaton::ThresholdAutomaton;

fn z3() {
    if let Err(why) = alln::z3_present() {
        panic!("{why}");
    }
}

/// The scripted protocols that have a threshold form, with it.
fn scripted_forms() -> Vec<(&'static str, ThresholdForm)> {
    REGISTRY
        .iter()
        .filter_map(|(p, _)| protocols::threshold_form(p.name).map(|f| (p.name, f)))
        .collect()
}

/// Every export parses with taco-parser, with its locations, rules and
/// specifications, per message too (every scripted form's rules about a
/// value read only that value, so each has its per-message automata).
#[test]
fn every_export_parses_with_taco() {
    for (name, form) in scripted_forms() {
        for sender in Sender::ALL.into_iter().chain(Sender::PER_MESSAGE) {
            let a = ta::build(name, &form, sender);
            let text = a.bymc(&[]);
            let (parsed, spec) = ByMCParser::new()
                .parse_ta_and_spec(&text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", a.name));
            assert_eq!(parsed.locations().count(), a.locations.len(), "{}", a.name);
            assert_eq!(parsed.rules().count(), a.edges.len(), "{}", a.name);
            assert_eq!(
                spec.into_iter().count(),
                ta::properties(sender).len(),
                "{}",
                a.name
            );
        }
    }
}

/// Bracha: agreement and correct-sender safety proved for every n > 3t.
#[test]
fn bracha_is_proved_for_every_n() {
    z3();
    let start = Instant::now();
    let r = alln::prove("bracha", &protocols::threshold_form("bracha").unwrap()).unwrap();
    for p in ["agreement", "correct_sender"] {
        assert!(r.proved(p), "{p}: {:?}", r.outcome(p));
    }
    eprintln!("bracha proved in {:.2} s", start.elapsed().as_secs_f64());
}

/// RB-Learner's algorithm 4 loses agreement at n = 4 in the explicit
/// search; TACO refutes it too, with a path at some n, t, f.
#[test]
fn rbl_alg4_is_refuted_with_a_counterexample() {
    z3();
    let r = alln::prove("rbl_alg4", &protocols::threshold_form("rbl_alg4").unwrap()).unwrap();
    let Some(Outcome::Refuted(c)) = r.outcome("agreement") else {
        panic!("agreement: {:?}", r.outcome("agreement"));
    };
    assert!(c.n > 3 * c.t && c.t >= c.f, "{c:?}");
    assert!(!c.path.is_empty());
    let text = alln::render(&r);
    assert!(text.contains("refuted (TACO)"), "{text}");
}

/// What the explicit search breaks at (n, f), Byzantine faults, single
/// semantics: agreement, and integrity's "only the sender's input".
fn broken_explicitly(p: &dyn RbProtocol, n: usize, f: usize) -> Vec<&'static str> {
    let spec = RbSpec::new(n, f, RbFaults::Byzantine).unwrap();
    // The whole search, not `refute`: a refutation names only the
    // properties broken at each instance's first violation.
    search::verify(&spec, p, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", p.name()))
        .broken
}

/// The sizes of the explicit search the proofs cover (n > 3t, t = f):
/// n = 3 and 4 as far as they are in scope (n = 3, f = 1 is not: it is
/// where Bracha falls, and no proof for n > 3t speaks of it).
const SIZES: [(usize, usize); 3] = [(3, 0), (4, 0), (4, 1)];

/// Both verifiers agree: a property TACO proves for every n > 3t holds in
/// the explicit search at every size of [`SIZES`], and one the explicit
/// search breaks there is not proved. correct_sender is the game's
/// integrity (at most once holds by construction in both).
fn cross_check(name: &str, p: &dyn RbProtocol, form: &ThresholdForm) -> alln::AllN {
    let r = alln::prove(name, form).unwrap();
    for (n, f) in SIZES {
        let broken = broken_explicitly(p, n, f);
        for (taco, game) in [("agreement", "agreement"), ("correct_sender", "integrity")] {
            assert!(
                !(r.proved(taco) && broken.contains(&game)),
                "{name}: TACO proves {taco} for every n > 3t, the explicit search breaks {game} \
                 at n = {n}, f = {f}"
            );
        }
    }
    // And the other way: a counterexample TACO finds at a size the search
    // reaches (with t = f, as the game has it) is one of the game's.
    for (taco, game) in [("agreement", "agreement"), ("correct_sender", "integrity")] {
        if let Some(Outcome::Refuted(c)) = r.outcome(taco) {
            if c.n <= 4 && c.t == c.f {
                let broken = broken_explicitly(p, c.n as usize, c.f as usize);
                assert!(
                    broken.contains(&game),
                    "{name}: TACO refutes {taco} at n = {}, f = {}, the explicit search finds \
                     {game} unbroken there",
                    c.n,
                    c.f
                );
            }
        }
    }
    r
}

#[test]
fn both_verifiers_agree_on_the_scripted_protocols() {
    z3();
    for (name, form) in scripted_forms() {
        let p = protocols::scripted(name).unwrap();
        cross_check(name, p, &form);
    }
}

/// A sample of RB-Learner's grammar that is threshold-guarded: 6
/// programs spread evenly over those whose automata have at most 48 rules
/// each (larger ones, with sends split between the others and itself, take
/// TACO minutes), each checked as its code on every view at n = 4 and 5,
/// then cross-checked.
#[test]
fn both_verifiers_agree_on_a_sample_of_the_grammar() {
    z3();
    let all = grammar::enumerate();
    let small = |f: &ThresholdForm| {
        Sender::ALL
            .iter()
            .all(|&s| ta::build("p", f, s).edges.len() <= 48)
    };
    let guarded: Vec<(usize, &grammar::Program, ThresholdForm)> = all
        .iter()
        .enumerate()
        .filter_map(|(k, p)| threshold::of_program(p).map(|f| (k, p, f)))
        .collect();
    let sample: Vec<_> = guarded.iter().filter(|(_, _, f)| small(f)).collect();
    let step = sample.len() / 6;
    let (mut proved, mut refuted) = (0, 0);
    for (k, prog, form) in sample.iter().step_by(step).take(6) {
        for n in [4, 5] {
            let spec = RbSpec::new(n, 1, RbFaults::Byzantine).unwrap();
            assert!(
                threshold::disagreement(&spec, form, *prog).is_none(),
                "program {k}: {prog}"
            );
        }
        let t = Instant::now();
        let r = cross_check(&format!("program_{k}"), *prog, form);
        eprintln!("program {k}: {prog}: {:.2} s", t.elapsed().as_secs_f64());
        if r.proved("agreement") {
            proved += 1;
        } else {
            refuted += 1;
        }
    }
    eprintln!(
        "{} of {} programs threshold-guarded, {} of them small; 6 sampled: agreement proved \
         for {proved}, refuted for {refuted}",
        guarded.len(),
        all.len(),
        sample.len()
    );
    assert_eq!(proved + refuted, 6);
}

/// The command line: `verify --all-n` prints each property's outcome (no
/// --n or --f needed), `export-ta` prints a file TACO reads, and without
/// z3 on PATH the proof fails naming Debian's package.
#[test]
fn the_command_line_proves_exports_and_names_the_missing_solver() {
    use std::process::Command;
    z3();
    let bin = env!("CARGO_BIN_EXE_selfplay");
    let args = [
        "verify",
        "--game",
        "reliable_broadcast",
        "--protocol",
        "bracha",
        "--all-n",
    ];
    // `selfplay verify ... --protocol bracha --all-n` with `extra` flags.
    let all_n = |extra: &[&str]| Command::new(bin).args(args).args(extra).output().unwrap();
    let out = all_n(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "agreement (no two correct agents deliver different values): proved for every n > 3t"
        ),
        "{text}"
    );
    let json = all_n(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["properties"][0][1]["outcome"], "proved", "{v}");

    let ta = Command::new(bin)
        .args(["export-ta", "--protocol", "echo", "--sender", "sender_1"])
        .output()
        .unwrap();
    assert!(ta.status.success());
    let text = String::from_utf8_lossy(&ta.stdout);
    ByMCParser::new().parse_ta_and_spec(&text).unwrap();

    let refused = Command::new(bin)
        .args(["export-ta", "--protocol", "relay_then_deliver"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not threshold-guarded"));

    let sized = all_n(&["--n", "4", "--f", "1"]);
    assert!(!sized.status.success());
    assert!(String::from_utf8_lossy(&sized.stderr).contains("drop --n and --f"));

    // Per message: correct-sender safety only, in sender_not_0's automaton.
    let per_message = all_n(&["--semantics", "per_message"]);
    let text = String::from_utf8_lossy(&per_message.stdout);
    assert!(per_message.status.success(), "{text}");
    assert!(text.contains("sender_not_0 ("), "{text}");
    assert!(
        text.contains("correct-sender safety") && text.contains("proved for every n > 3t"),
        "{text}"
    );
    assert!(
        text.contains("agreement: not a property per message"),
        "{text}"
    );

    // z3's time per automaton: a flag of --all-n, at least 1 s.
    let given = all_n(&["--z3-seconds", "60"]);
    assert!(given.status.success());
    let zero = all_n(&["--z3-seconds", "0"]);
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--z3-seconds"));

    let crash = all_n(&["--faults", "crash"]);
    assert!(!crash.status.success());
    let err = String::from_utf8_lossy(&crash.stderr);
    assert!(
        err.contains("--faults crash") && err.contains("Byzantine faults only"),
        "{err}"
    );

    let none = Command::new(bin)
        .args(args)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!none.status.success());
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.contains("Debian's package `z3`"), "{err}");
}

/// A proof z3 cannot finish in time is unknown, never proved: a large
/// program of the grammar (sends split between the others and itself)
/// with z3 stopped after 2 s.
#[test]
fn a_proof_out_of_time_is_unknown() {
    z3();
    let all = grammar::enumerate();
    let (k, form) = all
        .iter()
        .enumerate()
        .filter_map(|(k, p)| threshold::of_program(p).map(|f| (k, f)))
        .find(|(_, f)| ta::build("p", f, Sender::Byzantine).edges.len() > 200)
        .expect("a large program");
    let r = alln::prove_within(&format!("program_{k}"), &form, Semantics::Single, 2).unwrap();
    assert!(!r.proved("agreement"), "{:?}", r.outcome("agreement"));
}

/// Per message (RB-Learner's semantics), over the grammar: the programs
/// that are threshold-guarded, correct or not, grouped by their automaton
/// (the same text gets the same answer from TACO), every 10th automaton
/// in text order (50 of 500, and every program that has it; `selfplay
/// synthesize --census` runs all of them, docs/reliable_broadcast.md has
/// its counts). Per message the one safety property is correct-sender
/// safety (the game's integrity: no correct agent delivers a value a
/// correct sender did not broadcast). TACO's answer for every n > 3t and
/// the explicit search at n <= 5 must agree: proved means unbroken at
/// every size, and not proved means broken at some size (in the whole
/// census it is, for every program).
#[test]
fn per_message_both_verifiers_agree_on_the_grammar() {
    z3();
    let all = grammar::enumerate();
    let mut by_automaton: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, p) in all.iter().enumerate() {
        if let Some(form) = threshold::of_program(p) {
            assert!(form.symmetric(), "program {k}: {p}");
            let text = ta::build("p", &form, Sender::NotInput(0)).bymc(&[]);
            by_automaton.entry(text).or_default().push(k);
        }
    }
    let sample: Vec<&Vec<usize>> = by_automaton.values().step_by(10).collect();
    let t = Instant::now();
    let mut proved = BTreeMap::new();
    for ks in &sample {
        let form = threshold::of_program(&all[ks[0]]).unwrap();
        let r = alln::prove_within("p", &form, Semantics::PerMessage, 20).unwrap();
        assert!(
            !matches!(r.outcome("correct_sender"), Some(Outcome::Unknown { .. })),
            "program {}: TACO could not tell",
            ks[0]
        );
        for &k in ks.iter() {
            proved.insert(k, r.proved("correct_sender"));
        }
    }
    let taco_secs = t.elapsed().as_secs_f64();
    let mut broken_somewhere: BTreeMap<usize, bool> = BTreeMap::new();
    for (n, f) in [(3, 0), (4, 0), (4, 1), (5, 1)] {
        let spec = RbSpec::new(n, f, RbFaults::Byzantine)
            .unwrap()
            .with_semantics(Semantics::PerMessage);
        let mut verdict: BTreeMap<grammar::Behaviour, bool> = BTreeMap::new();
        for (&k, &safe) in &proved {
            let p = &all[k];
            let broken = *verdict
                .entry(grammar::behaviour(&spec, p))
                .or_insert_with(|| {
                    search::verify(&spec, p, &Limits::default())
                        .unwrap()
                        .broken
                        .contains(&"integrity")
                });
            *broken_somewhere.entry(k).or_default() |= broken;
            assert!(
                !(safe && broken),
                "program {k}: {p}: TACO proves correct-sender safety for every n > 3t, the \
                 explicit search breaks integrity at n = {n}, f = {f}"
            );
        }
    }
    for (&k, &safe) in &proved {
        assert!(
            safe || broken_somewhere[&k],
            "program {k}: {}: TACO refutes correct-sender safety, the explicit search finds \
             integrity unbroken at every n <= 5",
            all[k]
        );
    }
    let n_proved = proved.values().filter(|&&x| x).count();
    eprintln!(
        "per message: {} automata of {}, {} programs ({taco_secs:.1} s of TACO); proved for \
         every n: {n_proved}; broken explicitly: {}",
        sample.len(),
        by_automaton.len(),
        proved.len(),
        proved.len() - n_proved
    );
    // Both outcomes occur, so the check compared something.
    assert!(n_proved > 0 && n_proved < proved.len());
}
