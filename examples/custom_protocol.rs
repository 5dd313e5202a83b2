//! A protocol you bring: defined here, outside the workspace crates, then
//! verified exactly and attacked by a learned Byzantine team through the
//! library, the same way `selfplay` treats its own scripted protocols.
//!
//!     cargo run --release --example custom_protocol
//!
//! The protocol is majority voting with one change: a tie goes to the
//! agent's own input instead of to 0. At n = 4 with one Byzantine agent an
//! honest agent sees its own input and three votes, so ties happen, and the
//! verifier finds the instances an equivocating attacker wins. A learned
//! attacker then trains against it, and its exact attack rate is printed
//! next to the optimum. Outputs go to `results/examples/custom_protocol/`.

use envs::consensus::{Action, Protocol, View};
use selfplay::folder::{self, Mode};
use selfplay::games::consensus::config::HonestTeam;
use std::path::Path;
use std::sync::Arc;

/// Round 1: send the input. Round 2: commit the majority of the own input
/// and the direct votes received; a tie goes to the own input.
struct TieToOwnInput;

impl Protocol for TieToOwnInput {
    fn name(&self) -> String {
        "tie_to_own_input".into()
    }

    fn rounds(&self) -> u8 {
        2
    }

    fn check(&self, spec: &envs::consensus::EnvSpec) -> Result<(), String> {
        if spec.broadcasts() {
            return Err("tie_to_own_input counts every agent's input: use agreement".into());
        }
        Ok(())
    }

    fn act(&self, view: &View) -> Action {
        if view.round == 1 {
            return Action::Send;
        }
        let [zeros, ones] = view.counts(1);
        let (zeros, ones) = (
            zeros as usize + (view.input == 0) as usize,
            ones as usize + (view.input == 1) as usize,
        );
        if zeros == ones {
            Action::commit(view.input)
        } else {
            Action::commit((ones > zeros) as u8)
        }
    }
}

fn main() -> anyhow::Result<()> {
    // The game and the learning attacker of byz_break.toml, at n = 4.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = ["env.n=4", "train.episodes=16384", "train.eval_every=4096"].map(String::from);
    let mut res = selfplay::games::consensus::config::load_with(
        &root.join("experiments/byz_break.toml"),
        &sets,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let protocol: Arc<dyn Protocol> = Arc::new(TieToOwnInput);
    protocol.check(&res.spec).map_err(anyhow::Error::msg)?;

    // Exact: every placement, input vector and Byzantine choice.
    let report =
        envs::consensus::verify(&res.spec, &*protocol, &envs::consensus::Limits::default())?;
    println!(
        "{} in {}: optimal attack rate {} ({} of {} instances broken)",
        report.protocol,
        report.setting,
        report.optimal_attack_rate,
        report.broken_instances,
        report.instances
    );
    if let Some(trace) = &report.counterexample {
        println!("{}", trace.render());
    }

    // Learned: the attacker trains against the protocol, scored exactly.
    res.exp.honest.protocol = protocol.name();
    res.honest = HonestTeam::Protocol(protocol);
    let out = root.join("results/examples/custom_protocol");
    let folder = folder::open(&out, Mode::Overwrite)?;
    let rows = selfplay::games::consensus::game::run(&res, &folder.path, true)?;
    println!("episodes  learned attack (exact)  optimum");
    for r in &rows {
        let show = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
        println!(
            "{:>8}  {:>22}  {:>7}",
            r.episodes,
            show(r.exact_attack_rate),
            show(r.optimal_attack_rate)
        );
    }
    // No attack beats the optimum: the check CI runs this example for.
    for r in &rows {
        if let (Some(a), Some(o)) = (r.exact_attack_rate, r.optimal_attack_rate) {
            anyhow::ensure!(a <= o, "a learned attack beat the verifier's optimum");
        }
    }
    println!("written to {}", out.display());
    Ok(())
}
