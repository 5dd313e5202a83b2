//! `selfplay verify --game slush`: the sampling game's exact optimal
//! adversary ([`envs::slush_exact`]) from the command line. The settings are
//! checked by the engine's own `SlushSpec`, so the figures are about the
//! game the runner samples, and a bad setting is named by its flag.

use clap::Args;
use envs::slush::{SlushConfig, SlushSpec};
use envs::slush_exact::{Figures, Rule, Sight, Solver};
use envs::EnvConfig;
use serde::Serialize;

/// The sampling game's flags of `selfplay verify` (read with `--game slush`).
#[derive(Args, Debug, Default, Clone)]
pub struct SlushFlags {
    /// Sampling game: nodes sampled per query [default: 3].
    #[arg(long)]
    pub k: Option<usize>,
    /// Sampling game: answers of a colour that make a node adopt it [default: 2].
    #[arg(long)]
    pub alpha: Option<usize>,
    /// Sampling game, snowflake: consecutive successful queries before committing [default: 3].
    #[arg(long)]
    pub beta: Option<usize>,
    /// Sampling game: honest nodes starting on colour 1 [default: every split,
    /// and uniform inputs as the engine draws them].
    #[arg(long)]
    pub ones: Option<usize>,
    /// Sampling game: an adversary that answers without seeing the round's
    /// samples (it still sees every colour, counter, who asks and the round).
    #[arg(long)]
    pub blind: bool,
}

impl SlushFlags {
    /// The first sampling-game flag given, if any.
    pub fn given(&self) -> Option<&'static str> {
        [
            ("k", self.k.is_some()),
            ("alpha", self.alpha.is_some()),
            ("beta", self.beta.is_some()),
            ("ones", self.ones.is_some()),
            ("blind", self.blind),
        ]
        .into_iter()
        .find(|x| x.1)
        .map(|x| x.0)
    }
}

/// A `verify` command for the sampling game, as parsed.
pub struct Request<'a> {
    /// `--game` as given.
    pub game: &'a str,
    pub protocol: Option<&'a str>,
    pub n: usize,
    pub f: usize,
    pub rounds: Option<u8>,
    pub flags: &'a SlushFlags,
    pub json: bool,
    pub max_work: f64,
    /// Flags of the message-passing game that were given (refused here).
    pub consensus_only: Vec<&'static str>,
}

/// Both figures for one split, as `--json` prints them.
#[derive(Serialize, Debug, PartialEq)]
pub struct Split {
    pub ones: usize,
    pub optimal_attack_rate: f64,
    pub optimal_majority_attack_rate: f64,
}

impl From<Figures> for Split {
    fn from(x: Figures) -> Split {
        Split {
            ones: x.ones,
            optimal_attack_rate: x.disagreement,
            optimal_majority_attack_rate: x.majority,
        }
    }
}

/// The answer of `verify --game slush`: the settings and both figures.
/// Without `--ones`, the top-level figures are those of the engine's
/// default inputs (uniform and independent) and `splits` has every split.
#[derive(Serialize, Debug)]
pub struct SlushReport {
    pub game: &'static str,
    pub protocol: &'static str,
    pub n: usize,
    pub f: usize,
    pub k: usize,
    pub alpha: usize,
    /// Snowflake only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta: Option<usize>,
    pub rounds: u8,
    /// `--ones`, or null: uniform inputs.
    pub ones: Option<usize>,
    /// What the adversary sees: `samples` (everything, the round's samples
    /// included: the engine's strongest) or `querier` (`--blind`: not the samples).
    pub adversary_sees: &'static str,
    /// Largest probability that two honest nodes decide different colours.
    pub optimal_attack_rate: f64,
    /// Largest probability that not every honest node decides the initial
    /// honest majority (1 on a tied split, which has none).
    pub optimal_majority_attack_rate: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<Split>,
    /// Configurations valued by the backward induction.
    pub configurations: u64,
}

/// Checks a request and computes its report.
pub fn solve(req: &Request) -> Result<SlushReport, String> {
    match req.game {
        "slush" => {}
        "consensus" => {
            return Err(match req.flags.given() {
                Some(flag) => {
                    format!("--{flag}: only the sampling game reads it; add --game slush")
                }
                None => "--game consensus: not a sampling-game request".into(),
            })
        }
        other => return Err(format!("--game {other}: expected consensus or slush")),
    }
    if let Some(flag) = req.consensus_only.first() {
        return Err(format!(
            "--{flag}: the sampling game (--game slush) has no such setting"
        ));
    }
    let name = req.protocol.ok_or(
        "--protocol: the sampling game needs a scripted protocol (slush or snowflake); \
         learned sampling-game checkpoints are not verified yet",
    )?;
    let rule = Rule::parse(name).ok_or_else(|| {
        format!("--protocol {name}: the sampling game's protocols are slush and snowflake")
    })?;
    let flags = req.flags;
    if rule == Rule::Slush {
        if let Some(beta) = flags.beta {
            return Err(format!(
                "--beta {beta}: only snowflake commits on a counter; slush has no beta"
            ));
        }
    }
    let d = SlushConfig::default();
    let env = EnvConfig {
        n: req.n,
        f: req.f,
        ones: flags.ones,
        ..EnvConfig::default()
    };
    let cfg = SlushConfig {
        k: flags.k.unwrap_or(d.k),
        alpha: flags.alpha.unwrap_or(d.alpha),
        beta: flags.beta.unwrap_or(d.beta),
        rounds: req.rounds.unwrap_or(d.rounds),
        ..d
    };
    // The engine's own checks, each error named by the flag that sets it.
    let spec = SlushSpec::new(&env, &cfg).map_err(|e| {
        let flag = e.key.rsplit('.').next().unwrap_or(&e.key);
        format!("--{flag} {}: {}", e.value, e.reason)
    })?;
    // Only Snowflake's counters can outgrow the search's key: beta names it.
    let mut solver = Solver::new(&spec, rule).map_err(|e| format!("--beta {}: {e}", spec.beta))?;
    // Work is a count of joint choices weighed: a positive f64 from the CLI.
    solver.max_work = req.max_work.min(u64::MAX as f64) as u64;
    if flags.blind {
        solver.sight = Sight::Querier;
    }
    let (top, splits) = match flags.ones {
        Some(ones) => (solver.figures(ones), vec![]),
        None => (
            solver.uniform(),
            solver.every_split().into_iter().map(Split::from).collect(),
        ),
    };
    if solver.exceeded() {
        return Err(format!(
            "--max-work {}: the exact search weighs more joint choices than that; \
             raise it or shrink n, k, beta or rounds",
            req.max_work
        ));
    }
    Ok(SlushReport {
        game: "slush",
        protocol: rule.name(),
        n: spec.n,
        f: spec.f,
        k: spec.k,
        alpha: spec.alpha,
        beta: (rule == Rule::Snowflake).then_some(spec.beta),
        rounds: spec.rounds,
        ones: flags.ones,
        adversary_sees: if flags.blind { "querier" } else { "samples" },
        optimal_attack_rate: top.disagreement,
        optimal_majority_attack_rate: top.majority,
        splits,
        configurations: solver.evaluated,
    })
}

/// The report as text.
pub fn render(r: &SlushReport, seconds: f64) -> String {
    let mut s = format!(
        "{} | slush n={} f={} k={} alpha={}{} rounds={}\n",
        r.protocol,
        r.n,
        r.f,
        r.k,
        r.alpha,
        r.beta.map(|b| format!(" beta={b}")).unwrap_or_default(),
        r.rounds
    );
    s += if r.adversary_sees == "samples" {
        "exact optimal adversary: sees every colour, counter and sample of the round, answers each query\n"
    } else {
        "exact optimal adversary blind to the samples: sees every colour and counter, answers each querier\n"
    };
    s += "ones  optimal attack rate (disagreement)  optimal majority attack rate\n";
    let line = |ones: String, d: f64, m: f64| format!("{ones:>4}  {d:<34.10}  {m:.10}\n");
    for x in &r.splits {
        s += &line(
            x.ones.to_string(),
            x.optimal_attack_rate,
            x.optimal_majority_attack_rate,
        );
    }
    let label = match r.ones {
        Some(ones) => ones.to_string(),
        None => "any".into(),
    };
    s += &line(label, r.optimal_attack_rate, r.optimal_majority_attack_rate);
    if r.ones.is_none() {
        s += "(ones = any: uniform independent inputs, the engine's default)\n";
    }
    s += &format!(
        "{} configurations valued by backward induction, {seconds:.3} s\n",
        r.configurations
    );
    s
}

/// Runs `verify --game slush`: prints the report.
pub fn run(req: &Request) -> Result<(), String> {
    let start = std::time::Instant::now();
    let r = solve(req)?;
    if req.json {
        crate::outln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
    } else {
        crate::out!("{}", render(&r, start.elapsed().as_secs_f64()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(flags: &'a SlushFlags, protocol: &'a str, n: usize, f: usize) -> Request<'a> {
        Request {
            game: "slush",
            protocol: Some(protocol),
            n,
            f,
            rounds: None,
            flags,
            json: true,
            max_work: 2e9,
            consensus_only: vec![],
        }
    }

    #[test]
    fn bad_settings_name_their_flag() {
        let err = |flags: SlushFlags, protocol: &str, n: usize, f: usize| {
            solve(&req(&flags, protocol, n, f)).unwrap_err()
        };
        let d = SlushFlags::default;
        assert!(err(
            SlushFlags {
                alpha: Some(4),
                ..d()
            },
            "slush",
            5,
            1
        )
        .starts_with("--alpha 4: needs 1 <= alpha <= k = 3"));
        assert!(err(d(), "slush", 5, 5).starts_with("--f 5: needs f < n = 5"));
        assert!(err(SlushFlags { k: Some(5), ..d() }, "slush", 5, 1).starts_with("--k 5:"));
        assert!(err(
            SlushFlags {
                ones: Some(5),
                ..d()
            },
            "slush",
            5,
            1
        )
        .starts_with("--ones 5: there are only 4 honest agents"));
        assert!(err(
            SlushFlags {
                beta: Some(2),
                ..d()
            },
            "slush",
            5,
            1
        )
        .starts_with("--beta 2: only snowflake"));
        assert!(err(
            SlushFlags {
                beta: Some(0),
                ..d()
            },
            "snowflake",
            5,
            1
        )
        .starts_with("--beta 0:"));
        assert!(err(d(), "majority", 5, 1).starts_with("--protocol majority:"));
        let k2 = SlushFlags { k: Some(2), ..d() };
        let mut r = req(&k2, "slush", 5, 1);
        r.game = "consensus";
        assert!(solve(&r)
            .unwrap_err()
            .starts_with("--k: only the sampling game"));
        r.game = "slush";
        r.consensus_only = vec!["identity"];
        assert!(solve(&r).unwrap_err().starts_with("--identity:"));
        r.consensus_only = vec![];
        r.max_work = 10.0;
        assert!(solve(&r).unwrap_err().starts_with("--max-work 10:"));
    }

    #[test]
    fn without_ones_the_top_figures_average_every_split_as_the_engine_draws_inputs() {
        let flags = SlushFlags::default();
        let r = solve(&req(&flags, "snowflake", 5, 1)).unwrap();
        assert_eq!(r.splits.len(), 5);
        // Binomial(4, 1/2) weights over ones = 0..=4.
        let w = [1.0, 4.0, 6.0, 4.0, 1.0];
        let avg: f64 = r
            .splits
            .iter()
            .zip(w)
            .map(|(s, w)| w / 16.0 * s.optimal_attack_rate)
            .sum();
        assert!((avg - r.optimal_attack_rate).abs() < 1e-15);
        // A tied split has no majority to decide.
        assert_eq!(r.splits[2].optimal_majority_attack_rate, 1.0);
        let one = solve(&req(
            &SlushFlags {
                ones: Some(1),
                ..SlushFlags::default()
            },
            "snowflake",
            5,
            1,
        ))
        .unwrap();
        assert!(one.splits.is_empty());
        let blind = solve(&req(
            &SlushFlags {
                ones: Some(1),
                blind: true,
                ..SlushFlags::default()
            },
            "snowflake",
            5,
            1,
        ))
        .unwrap();
        assert_eq!(blind.adversary_sees, "querier");
        assert!(blind.optimal_attack_rate <= one.optimal_attack_rate);
        assert_eq!(one.optimal_attack_rate, r.splits[1].optimal_attack_rate);
        assert_eq!(one.beta, Some(3));
    }
}
