//! `selfplay verify --game slush`: the sampling game's exact optimal
//! adversary ([`envs::sampling::exact`]) from the command line. The settings are
//! checked by the engine's own `SlushSpec`, so the figures are about the
//! game the runner samples, and a bad setting is named by its flag.

use crate::games::Entry as _;
use clap::Args;
use envs::consensus::EnvConfig;
use envs::sampling::exact::{Rule, Score, Sight, Solver, Table};
use envs::sampling::{SlushConfig, SlushSpec, COMMIT};
use serde::Serialize;
use std::path::Path;

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

/// A `verify` command for the sampling game, as parsed.
pub struct Request<'a> {
    pub protocol: Option<&'a str>,
    /// A learned sampling-game checkpoint, played greedily (instead of `protocol`).
    pub checkpoint: Option<&'a Path>,
    pub n: usize,
    pub f: usize,
    pub rounds: Option<u8>,
    pub flags: &'a SlushFlags,
    pub json: bool,
    pub max_work: f64,
}

/// The three figures for one split, as `--json` prints them.
#[derive(Serialize, Debug, PartialEq)]
pub struct Split {
    pub ones: usize,
    pub optimal_attack_rate: f64,
    pub optimal_majority_attack_rate: f64,
    pub optimal_correctness_attack_rate: f64,
}

impl Split {
    /// The figures of one split (`Some(ones)`), or of the engine's uniform
    /// inputs (`None`, reported with `ones` = the honest nodes).
    fn of(solver: &mut Solver, ones: Option<usize>) -> Split {
        let [d, m, c] = Score::ALL.map(|x| match ones {
            Some(ones) => solver.score(x, ones),
            None => solver.uniform_score(x),
        });
        Split {
            ones: ones.unwrap_or(solver.honest()),
            optimal_attack_rate: d,
            optimal_majority_attack_rate: m,
            optimal_correctness_attack_rate: c,
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
    /// The checkpoint played greedily, when `protocol` is `learned`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    pub n: usize,
    pub f: usize,
    pub k: usize,
    /// Slush and Snowflake only (a learned protocol has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<usize>,
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
    /// Largest probability that agreement, termination or validity fails
    /// (the decided colour is some honest input, the unanimous one when the
    /// inputs are): the complement of the engine's honest win.
    pub optimal_correctness_attack_rate: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<Split>,
    /// Configurations valued by the backward induction.
    pub configurations: u64,
}

/// Checks a request and computes its report.
pub fn solve(req: &Request) -> Result<SlushReport, String> {
    let flags = req.flags;
    let mut k = flags.k;
    let mut rounds = req.rounds;
    let rule = match (req.protocol, req.checkpoint) {
        (_, Some(path)) => {
            let learned = learned_table(path, flags, &mut k, &mut rounds)?;
            Rule::Table(learned)
        }
        (Some(name), None) => Rule::parse(name).ok_or_else(|| {
            format!(
                "--protocol {name}: the sampling game's protocols are {}",
                Rule::NAMES.join(", ")
            )
        })?,
        (None, None) => {
            return Err(
                "--protocol: the sampling game needs slush, snowflake or --checkpoint".into(),
            )
        }
    };
    if let Rule::Slush | Rule::Trivial(_) = rule {
        if let Some(beta) = flags.beta {
            return Err(format!(
                "--beta {beta}: only snowflake commits on a counter; {} has no beta",
                rule.name()
            ));
        }
    }
    if let (Rule::Trivial(_), Some(alpha)) = (&rule, flags.alpha) {
        return Err(format!(
            "--alpha {alpha}: {} adopts no colour on alpha answers; it has no alpha",
            rule.name()
        ));
    }
    let d = SlushConfig::default();
    let env = EnvConfig {
        n: req.n,
        f: req.f,
        ones: flags.ones,
        ..EnvConfig::default()
    };
    let cfg = SlushConfig {
        k: k.unwrap_or(d.k),
        alpha: flags.alpha.unwrap_or(d.alpha),
        beta: flags.beta.unwrap_or(d.beta),
        rounds: rounds.unwrap_or(d.rounds),
        ..d
    };
    // The engine's own checks, each error named by the flag that sets it.
    let spec = SlushSpec::new(&env, &cfg).map_err(|e| {
        let flag = e.key.rsplit('.').next().unwrap_or(&e.key);
        format!("--{flag} {}: {}", e.value, e.reason)
    })?;
    // Only Snowflake's counters can outgrow the search's key: beta names it.
    let protocol = rule.name();
    let snowflake = rule == Rule::Snowflake;
    let has_alpha = matches!(rule, Rule::Slush | Rule::Snowflake);
    let mut solver = Solver::new(&spec, rule).map_err(|e| format!("--beta {}: {e}", spec.beta))?;
    // Work is a count of joint choices weighed: a positive f64 from the CLI.
    solver.max_work = req.max_work.min(u64::MAX as f64) as u64;
    if flags.blind {
        solver.sight = Sight::Querier;
    }
    let (top, splits) = match flags.ones {
        Some(ones) => (Split::of(&mut solver, Some(ones)), vec![]),
        None => (
            Split::of(&mut solver, None),
            (0..=solver.honest())
                .map(|ones| Split::of(&mut solver, Some(ones)))
                .collect(),
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
        protocol: if req.checkpoint.is_some() {
            "learned"
        } else {
            protocol
        },
        checkpoint: req.checkpoint.map(|p| p.display().to_string()),
        n: spec.n,
        f: spec.f,
        k: spec.k,
        alpha: has_alpha.then_some(spec.alpha),
        beta: snowflake.then_some(spec.beta),
        rounds: spec.rounds,
        ones: flags.ones,
        adversary_sees: if flags.blind { "querier" } else { "samples" },
        optimal_attack_rate: top.optimal_attack_rate,
        optimal_majority_attack_rate: top.optimal_majority_attack_rate,
        optimal_correctness_attack_rate: top.optimal_correctness_attack_rate,
        splits,
        configurations: solver.evaluated,
    })
}

/// The honest observation the runner encodes (`SlushEnv::encode`): own
/// colour, round, and the counts of 0s and 1s, one-hot.
pub fn encode(k: usize, rounds: u8, colour: u8, round: u8, [z, o]: [usize; 2]) -> Vec<f32> {
    let mut out = vec![0.0; 2 + rounds as usize + 2 * (k + 1)];
    out[colour as usize] = 1.0;
    out[2 + round as usize - 1] = 1.0;
    let base = 2 + rounds as usize;
    out[base + z] = 1.0;
    out[base + k + 1 + o] = 1.0;
    out
}

/// A learned sampling-game checkpoint as the table of its greedy actions,
/// exactly as the runner plays it: its observation is (colour, round,
/// counts) and nothing else, so the table is the whole protocol. Sets `k`
/// and `rounds` to its training's (refusing other values given).
fn learned_table(
    path: &Path,
    flags: &SlushFlags,
    k: &mut Option<usize>,
    rounds: &mut Option<u8>,
) -> Result<Table, String> {
    let shown = path.display();
    let (c, exp) = crate::games::checkpoint_of(path, super::ENTRY.name())?;
    if c.meta.team != "honest" {
        return Err(format!(
            "--checkpoint {shown}: a {} checkpoint, not honest",
            c.meta.team
        ));
    }
    for (flag, given) in [
        ("alpha", flags.alpha.is_some()),
        ("beta", flags.beta.is_some()),
    ] {
        if given {
            return Err(format!(
                "--{flag}: a learned protocol has no {flag}; its checkpoint decides"
            ));
        }
    }
    let (tk, tr) = (exp.slush.k, c.meta.rounds);
    if k.is_some_and(|x| x != tk) {
        return Err(format!(
            "--k {}: {shown} was trained with k = {tk}; its counts mean something else under another k",
            k.unwrap()
        ));
    }
    if rounds.is_some_and(|x| x != tr) {
        return Err(format!(
            "--rounds {}: {shown} was trained with {tr} rounds; its round features mean something else",
            rounds.unwrap()
        ));
    }
    let policy = c.policy()?;
    let width = 2 + tr as usize + 2 * (tk + 1);
    if c.meta.obs_dim != width
        || policy.inputs() != width
        || policy.outputs() != agents::learner::CLASSES
    {
        return Err(format!(
            "--checkpoint {shown}: not a sampling-game honest network of k = {tk}, {tr} rounds"
        ));
    }
    *k = Some(tk);
    *rounds = Some(tr);
    Ok(greedy_table(&policy, tk, tr))
}

/// A sampling-game honest network's greedy play as a table over (round,
/// colour, counts): its observation is exactly those, so the table is the
/// whole protocol, the shape the exact search needs. Read through the
/// runner's forward pass, greedy pick and mask (only commit in the last round).
pub fn greedy_table(policy: &agents::mlp::Frozen, k: usize, rounds: u8) -> Table {
    let mut scratch = [vec![], vec![]];
    let mut logits = vec![];
    // Greedy picks draw nothing; `pick` takes a stream all the same.
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    Table::new(k, rounds, |round, colour, counts| {
        let obs = encode(k, rounds, colour, round, counts);
        policy.forward(&obs, 1, &mut scratch, &mut logits);
        let mask = if round < rounds { 0b111 } else { 1 << COMMIT };
        agents::learner::pick(&logits[..agents::learner::CLASSES], mask, true, &mut rng).0 as u8
    })
}

/// The report as text.
pub fn render(r: &SlushReport, seconds: f64) -> String {
    let mut s = format!(
        "{} | slush n={} f={} k={}{}{} rounds={}\n",
        r.protocol,
        r.n,
        r.f,
        r.k,
        r.alpha.map(|a| format!(" alpha={a}")).unwrap_or_default(),
        r.beta.map(|b| format!(" beta={b}")).unwrap_or_default(),
        r.rounds
    );
    if let Some(path) = &r.checkpoint {
        s += &format!("(the greedy protocol of {path})\n");
    }
    s += if r.adversary_sees == "samples" {
        "exact optimal adversary: sees every colour, counter and sample of the round, answers each query\n"
    } else {
        "exact optimal adversary blind to the samples: sees every colour and counter, answers each querier\n"
    };
    s += "ones  optimal attack rate (disagreement)  optimal majority attack rate  \
          optimal correctness attack rate\n";
    let line = |ones: String, d: f64, m: f64, c: f64| {
        format!("{ones:>4}  {d:<34.10}  {m:<28.10}  {c:.10}\n")
    };
    for x in &r.splits {
        s += &line(
            x.ones.to_string(),
            x.optimal_attack_rate,
            x.optimal_majority_attack_rate,
            x.optimal_correctness_attack_rate,
        );
    }
    let label = match r.ones {
        Some(ones) => ones.to_string(),
        None => "any".into(),
    };
    s += &line(
        label,
        r.optimal_attack_rate,
        r.optimal_majority_attack_rate,
        r.optimal_correctness_attack_rate,
    );
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
            protocol: Some(protocol),
            checkpoint: None,
            n,
            f,
            rounds: None,
            flags,
            json: true,
            max_work: 2e9,
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

    #[test]
    fn the_table_reads_observations_as_the_engine_encodes_them() {
        use rand::SeedableRng;
        let env_cfg = EnvConfig {
            n: 5,
            f: 1,
            ..EnvConfig::default()
        };
        let spec = SlushSpec::new(&env_cfg, &SlushConfig::default()).unwrap();
        let mut env = envs::sampling::SlushEnv::new(spec.clone(), 32);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        env.reset(&mut rng);
        let mut byz = vec![0u8; 32 * spec.byz_action_len()];
        let mut seen = 0;
        while !env.done() {
            env.draw(&mut rng);
            for (t, b) in byz.iter_mut().enumerate() {
                *b = (t % 3) as u8;
            }
            env.answer(&byz);
            let mut got = vec![0.0; spec.obs_size()];
            for e in 0..32 {
                for i in envs::consensus::rules::bits(env.acting(e)) {
                    env.encode(e, i, &mut got);
                    let [z, o] = env.counts(e, i);
                    let want = encode(
                        spec.k,
                        spec.rounds,
                        env.colour(e, i),
                        env.round(),
                        [z as usize, o as usize],
                    );
                    assert_eq!(got, want);
                    seen += 1;
                }
            }
            env.step(&[envs::sampling::HOLD1; 32 * 5]);
        }
        assert!(seen > 32);
    }

    #[test]
    fn the_trivial_protocols_are_scored_on_every_goal_and_refuse_thresholds() {
        let flags = SlushFlags::default();
        let r = solve(&req(&flags, "always0", 5, 2)).unwrap();
        assert_eq!(r.protocol, "always0");
        assert_eq!((r.alpha, r.beta), (None, None));
        assert_eq!(
            (
                r.optimal_attack_rate,
                r.optimal_majority_attack_rate,
                r.optimal_correctness_attack_rate
            ),
            (0.0, 0.5, 0.125)
        );
        // Per split: validity fails only on unanimous 1s, the majority on 2 or 3 ones.
        let c: Vec<f64> = r
            .splits
            .iter()
            .map(|x| x.optimal_correctness_attack_rate)
            .collect();
        assert_eq!(c, [0.0, 0.0, 0.0, 1.0]);
        let m: Vec<f64> = r
            .splits
            .iter()
            .map(|x| x.optimal_majority_attack_rate)
            .collect();
        assert_eq!(m, [0.0, 0.0, 1.0, 1.0]);
        let own = solve(&req(&flags, "own_input", 5, 1)).unwrap();
        assert_eq!(own.optimal_correctness_attack_rate, 0.875);
        let alpha = SlushFlags {
            alpha: Some(2),
            ..SlushFlags::default()
        };
        let err = solve(&req(&alpha, "own_input", 5, 1)).unwrap_err();
        assert!(err.starts_with("--alpha 2: own_input"), "{err}");
        let beta = SlushFlags {
            beta: Some(2),
            ..SlushFlags::default()
        };
        let err = solve(&req(&beta, "always1", 5, 1)).unwrap_err();
        assert!(err.starts_with("--beta 2: only snowflake"), "{err}");
        // Slush's correctness lies between its other two figures.
        let s = solve(&req(&flags, "slush", 5, 1)).unwrap();
        for x in &s.splits {
            assert!(x.optimal_attack_rate <= x.optimal_correctness_attack_rate);
            assert!(x.optimal_correctness_attack_rate <= x.optimal_majority_attack_rate);
        }
        let err = solve(&req(&flags, "nosuch", 5, 1)).unwrap_err();
        assert!(
            err.contains("always0, always1, own_input, first_sample"),
            "{err}"
        );
    }
}
