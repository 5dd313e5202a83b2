//! Every experiment file runs at reduced size and says what theory says;
//! the learning experiments learn on k of n seeds, within a budget with a
//! margin over the episodes docs/results.md measured (see [`k_of_n`]).

use selfplay::config;
use selfplay::export::MetricsRow;
use selfplay::games::consensus::config::Resolved;
use std::path::{Path, PathBuf};

fn experiment(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments")
        .join(name)
}

fn experiment_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(experiment(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path, sets: &[&str]) -> Resolved {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    selfplay::games::consensus::config::load_with(path, &sets).unwrap_or_else(|e| panic!("{e}"))
}

fn run(res: &Resolved, out: &Path) -> Vec<MetricsRow> {
    selfplay::games::consensus::game::run(res, out, true).unwrap()
}

/// Runs `one` for every seed and asserts that at least `k` of them pass,
/// naming what failed on each seed that did not. The learning tests use it
/// so that one unlucky seed neither fails the suite nor hides a real
/// regression: `k` is below the seeds docs/results.md saw verify within
/// the budget, and the budget is above the latest of them by a margin
/// each test states.
fn k_of_n(k: usize, seeds: &[u64], mut one: impl FnMut(u64) -> Result<(), String>) {
    let results: Vec<(u64, Result<(), String>)> = seeds.iter().map(|&s| (s, one(s))).collect();
    let passed = results.iter().filter(|(_, r)| r.is_ok()).count();
    assert!(
        passed >= k,
        "{passed} of {} seeds passed, {k} needed: {results:#?}",
        seeds.len()
    );
}

/// `Ok` if `cond`, else `Err(what)`: a failed check of one seed.
fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The last row verified, and no earlier row: what a run that stops when
/// verified writes when it learns a correct protocol from a broken start.
fn verified_at_the_end(rows: &[MetricsRow]) -> Result<(), String> {
    let last = rows.last().expect("a run writes rows");
    check(rows[0].verified == Some(false), || {
        format!("starts verified: {:?}", rows[0])
    })?;
    check(last.verified == Some(true), || {
        format!("not verified within {} episodes", last.episodes)
    })
}

#[test]
fn every_experiment_runs_and_respects_the_optimum() {
    let files = experiment_files();
    assert!(files.len() >= 6);
    for path in files {
        if is_reliable_broadcast(&path) {
            continue; // reliable_broadcast_experiments_learn_at_reduced_size runs them
        }
        if experiment_of(&path, &[]).1 == "snowball" {
            continue; // snowball_experiment_runs_at_reduced_size runs it
        }
        let dir = tempfile::tempdir().unwrap();
        let sets: Vec<String> = [
            "eval.episodes=2000",
            "train.episodes=2048",
            "train.eval_every=1024",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // The sampling game has its own runner: baselines and a learned team, all sampled.
        if let Some(job) = slush_job(&path, &sets) {
            let rows = selfplay::games::sampling::game::run(&job, dir.path(), &|_| {}).unwrap();
            let names: Vec<&str> = rows.iter().map(|r| r.honest.as_str()).collect();
            if job.exp.byzantine.kind == config::Kind::Scripted {
                assert_eq!(
                    &names[..3],
                    ["slush", "snowflake", "learned"],
                    "{}",
                    path.display()
                );
            }
            assert!(rows
                .iter()
                .all(|r| r.eval_episodes == 2000 && r.majority_rate.is_some()));
            // Every attack, scripted or learned, within its interval of the optimum.
            let attacks =
                selfplay::games::sampling::score::read(&dir.path().join("metrics.csv")).unwrap();
            for r in &attacks {
                let opt = r
                    .metrics
                    .optimal_attack_rate
                    .expect("an optimum on every row");
                assert!(
                    r.attack.attack_rate_low <= opt,
                    "{}: {r:#?}",
                    path.display()
                );
            }
            continue;
        }
        let res = load(
            &path,
            &[
                "eval.episodes=2000",
                "train.episodes=2048",
                "train.eval_every=1024",
                "train.stop_when_verified=false",
            ],
        );
        let rows = run(&res, dir.path());
        let name = path.display();
        assert!(!rows.is_empty(), "{name}");
        for r in &rows {
            // No attack, learned or scripted, beats the verifier's optimum.
            if let (Some(attack), Some(optimum)) = (r.exact_attack_rate, r.optimal_attack_rate) {
                assert!(
                    attack <= optimum + 1e-12,
                    "{name}: {} beats the optimum",
                    r.byzantine
                );
            }
            // Against a verified deterministic protocol nothing wins, even sampled.
            if r.verified == Some(true) && r.honest != "learned" {
                assert_eq!(
                    r.honest_win_rate, 1.0,
                    "{name}: {} wins against a verified protocol",
                    r.byzantine
                );
            }
            assert_eq!(r.eval_episodes, 2000);
        }
        for f in ["config.toml", "metrics.csv", "timing.csv"] {
            assert!(dir.path().join(f).exists(), "{name}: no {f}");
        }
        if res.trains() {
            assert_eq!(rows.last().unwrap().episodes, 2048, "{name}");
        }
    }
}

#[test]
fn majority_experiment_reproduces_the_textbook() {
    let dir = tempfile::tempdir().unwrap();
    let rows = run(
        &load(&experiment("majority.toml"), &["eval.episodes=5000"]),
        dir.path(),
    );
    let row = |name: &str| rows.iter().find(|r| r.byzantine == name).unwrap();
    assert_eq!(row("silent").exact_honest_win_rate, Some(1.0));
    // Equivocation reaches the optimum: every split input vector is lost.
    assert_eq!(row("equivocate").exact_attack_rate, Some(0.5));
    assert_eq!(row("equivocate").optimal_attack_rate, Some(0.5));
    assert_eq!(
        row("random").exact_attack_rate,
        None,
        "random is not deterministic"
    );
    let sampled = row("equivocate").honest_win_rate;
    assert!(
        (sampled - 0.5).abs() < 0.03,
        "sampled {sampled} far from the exact 0.5"
    );
    let cex = std::fs::read_to_string(dir.path().join("counterexample.txt")).unwrap();
    assert!(cex.contains("violated: agreement"), "{cex}");
}

#[test]
fn honest_team_learns_send_then_majority() {
    // docs/results.md: 5 of 5 seeds verified by 4,096 episodes; here 8,192
    // (twice that), and 4 of 5 must.
    k_of_n(4, &[1, 2, 3, 4, 5], |seed| {
        let dir = tempfile::tempdir().unwrap();
        let seed = format!("seed={seed}");
        let res = load(
            &experiment("honest_consensus.toml"),
            &[&seed, "train.episodes=8192", "eval.episodes=1000"],
        );
        let rows = run(&res, dir.path());
        let last = rows.last().unwrap();
        check(rows[0].exact_honest_win_rate < Some(1.0), || {
            "starts at 100%".into()
        })?;
        // Every one of the 8 input vectors won, and the greedy protocol verified.
        check(last.exact_honest_win_rate == Some(1.0), || {
            format!("exact win {:?}", last.exact_honest_win_rate)
        })?;
        check(last.verified == Some(true), || "not verified".into())?;
        check(last.mean_decision_round > 1.5, || {
            "commits before sending".into()
        })?;
        check(dir.path().join("honest.safetensors").exists(), || {
            "no checkpoint".into()
        })
    });
}

/// Issue 15: REINFORCE at the PyTorch anchor's settings (batch-mean
/// baseline, entropy 0.2, first-matching terminal rewards, a round penalty
/// per step) leaves the 87.5% constant commit and learns send-then-majority;
/// with the terminal penalties summed instead (-3 where the anchor pays -1),
/// the same run stays in the trap. Seed 1 first reaches 100% at 87,040
/// episodes (docs/learning.md).
#[test]
fn reinforce_learns_at_the_anchors_settings_and_not_with_summed_penalties() {
    let short = [
        "train.episodes=102400",
        "train.stop_when_verified=true",
        "eval.episodes=256",
    ];
    let dir = tempfile::tempdir().unwrap();
    let rows = run(
        &load(&experiment("reinforce_like_anchor.toml"), &short),
        dir.path(),
    );
    let last = rows.last().unwrap();
    assert!(rows[0].exact_honest_win_rate < Some(1.0));
    assert_eq!(last.exact_honest_win_rate, Some(1.0), "{rows:#?}");
    assert_eq!(last.verified, Some(true));
    assert!(last.mean_decision_round > 1.5, "it sends before committing");
    let dir = tempfile::tempdir().unwrap();
    let mut summed = short.to_vec();
    summed.push("rewards.terminal=sum");
    let rows = run(
        &load(&experiment("reinforce_like_anchor.toml"), &summed),
        dir.path(),
    );
    assert!(
        rows.iter().all(|r| r.exact_honest_win_rate < Some(1.0)),
        "{rows:#?}"
    );
}

#[test]
fn byzantine_agent_learns_to_equivocate_at_n_3_and_4() {
    // docs/results.md: the greedy attacker reaches the optimum on 5 of 5
    // seeds at both sizes; here 3 seeds each at a 14,336-episode budget,
    // and 2 of 3 must.
    for (n, optimum) in [(3, 0.5), (4, 0.375)] {
        k_of_n(2, &[1, 2, 3], |seed| {
            let dir = tempfile::tempdir().unwrap();
            let sets = [format!("env.n={n}"), format!("seed={seed}")];
            let res = load(
                &experiment("byz_break.toml"),
                &[
                    &sets[0],
                    &sets[1],
                    "train.episodes=14336",
                    "eval.episodes=1000",
                ],
            );
            let rows = run(&res, dir.path());
            let last = rows.last().unwrap();
            assert_eq!(last.optimal_attack_rate, Some(optimum));
            check(
                rows[0].exact_attack_rate.is_some_and(|a| a < optimum),
                || "starts at the optimum".into(),
            )?;
            // The greedy attacker wins every breakable instance.
            check(last.exact_attack_rate == Some(optimum), || {
                format!("n = {n}: exact attack {:?}", last.exact_attack_rate)
            })
        });
    }
}

#[test]
fn cotraining_settles_with_the_attacker_at_its_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let res = load(
        &experiment("cotrain.toml"),
        &["train.episodes=8192", "eval.episodes=1000"],
    );
    let rows = run(&res, dir.path());
    let last = rows.last().unwrap();
    assert!(
        last.honest_entropy.is_some() && last.byzantine_entropy.is_some(),
        "both teams learned"
    );
    assert!(
        last.optimal_attack_rate > Some(0.0),
        "n <= 3f without signatures: never verified"
    );
    assert_eq!(
        last.exact_attack_rate, last.optimal_attack_rate,
        "{rows:#?}"
    );
}

#[test]
fn same_seed_gives_byte_identical_metrics() {
    let read = |d: &Path| std::fs::read(d.join("metrics.csv")).unwrap();
    for (file, sets) in [
        ("signed_relay_no_pki.toml", vec!["eval.episodes=5000"]),
        (
            "cotrain.toml",
            vec!["train.episodes=4096", "eval.episodes=1000"],
        ),
    ] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        run(&load(&experiment(file), &sets), a.path());
        run(&load(&experiment(file), &sets), b.path());
        assert_eq!(read(a.path()), read(b.path()), "{file}");
        // And the seed matters.
        let mut other = sets.clone();
        other.push("seed=99");
        let c = tempfile::tempdir().unwrap();
        run(&load(&experiment(file), &other), c.path());
        assert_ne!(read(a.path()), read(c.path()), "{file}");
    }
}

#[test]
fn sixteen_agents_run_and_an_infeasible_search_is_left_empty() {
    let text = "name = \"big\"\n[env]\nn = 16\nf = 5\n[eval]\nepisodes = 2000\nbatch = 512\nmax_instances = 100000\n";
    let res = selfplay::games::consensus::config::resolve(config::parse(text, "big.toml").unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rows = run(&res, dir.path());
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.optimal_attack_rate, None, "the verifier refuses n = 16");
    assert_eq!(
        r.exact_honest_win_rate, None,
        "C(16,5) * 2^11 instances exceed max_instances"
    );
    assert!(r.honest_win_rate > 0.0 && r.honest_win_rate < 1.0);
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",,,,,,"), "{csv}");
}

#[test]
fn alternating_blocks_train_one_team_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "train.schedule=alternating",
        "train.block=1",
        "train.batch=512",
        "train.eval_every=512",
        "train.episodes=2048",
        "eval.episodes=500",
    ];
    let rows = run(&load(&experiment("cotrain.toml"), &sets), dir.path());
    assert_eq!(rows.len(), 5);
    for (k, r) in rows.iter().enumerate().skip(1) {
        // Epoch k - 1 belonged to the honest team when k - 1 is even.
        let honest_turn = (k - 1) % 2 == 0;
        assert_eq!(r.honest_entropy.is_some(), honest_turn, "row {k}");
        assert_eq!(r.byzantine_entropy.is_some(), !honest_turn, "row {k}");
    }
}

#[test]
fn a_frozen_learned_protocol_is_attacked_and_scored_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let hc = dir.path().join("hc");
    run(
        &load(
            &experiment("honest_consensus.toml"),
            &["train.episodes=8192", "eval.episodes=500"],
        ),
        &hc,
    );
    let ckpt = format!(
        "honest.checkpoint=\"{}\"",
        hc.join("honest.safetensors").display()
    );
    let sets = [
        "honest.kind=frozen",
        &ckpt,
        "train.episodes=14336",
        "eval.episodes=500",
    ];
    let rows = run(
        &load(&experiment("byz_break.toml"), &sets),
        &dir.path().join("bb"),
    );
    let last = rows.last().unwrap();
    assert!(last.honest.starts_with("frozen:"), "{}", last.honest);
    assert!(
        last.honest_entropy.is_none(),
        "a frozen team does not learn"
    );
    // The learned send-then-majority is majority: the optimum is majority's.
    assert_eq!(last.optimal_attack_rate, Some(0.5));
    assert_eq!(last.exact_attack_rate, Some(0.5), "{rows:#?}");
}

#[test]
fn training_runs_plot_their_curves() {
    let dir = tempfile::tempdir().unwrap();
    run(
        &load(
            &experiment("cotrain.toml"),
            &[
                "train.episodes=4096",
                "train.eval_every=1024",
                "eval.episodes=500",
            ],
        ),
        dir.path(),
    );
    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
    for label in [
        "honest win (sampled)",
        "attack rate (exact, greedy)",
        "optimal attack rate (verifier)",
        "byzantine entropy",
        "training episodes",
    ] {
        assert!(svg.contains(label), "no {label}");
    }
    // One line per series (3 + 2 + 4), each through every evaluation row.
    let lines = svg.matches("<polyline").count() + svg.matches("<path").count();
    assert!(lines >= 9, "{lines} lines");
    assert!(
        svg.matches("<circle").count() >= 5 * 5,
        "a marker per row and series"
    );
    // An evaluation run has no curve over episodes: one bar group per adversary.
    let eval = tempfile::tempdir().unwrap();
    run(
        &load(&experiment("majority.toml"), &["eval.episodes=500"]),
        eval.path(),
    );
    let svg = std::fs::read_to_string(eval.path().join("evaluation.svg")).unwrap();
    for label in [
        "silent",
        "random",
        "equivocate",
        "twins",
        "optimal attack rate",
    ] {
        assert!(svg.contains(label), "no {label}");
    }
    // Two bars (win, exact attack) for each deterministic adversary, one for random.
    assert!(svg.matches("<rect").count() >= 7, "bars missing");
}

#[test]
fn pki_inference_is_learned_and_verified_at_n_3() {
    // docs/results.md: 5 of 5 seeds, first verified from 114,688 (seed 4)
    // to 499,712 episodes; seeds 4, 2 and 1 by 139,264. Here 163,840 (18%
    // over 139,264), and 2 of those 3 must: this experiment is the
    // slowest to learn, so three seeds, not five, keep the test near 30 s.
    k_of_n(2, &[1, 2, 4], |seed| {
        let dir = tempfile::tempdir().unwrap();
        let seed = format!("seed={seed}");
        let res = load(
            &experiment("pki_inference.toml"),
            &[&seed, "train.episodes=163840", "eval.episodes=500"],
        );
        let rows = run(&res, dir.path());
        // The random starting protocol is broken; self-play takes it to no
        // broken instance at all, exactly as the verifier counts it, and
        // training stops there.
        verified_at_the_end(&rows)?;
        check(rows.last().unwrap().episodes < 163840, || {
            "it did not stop when verified".into()
        })?;
        for r in &rows {
            check(r.exact_attack_rate <= r.optimal_attack_rate, || {
                format!("an attack above the optimum: {r:?}")
            })?;
        }
        check(dir.path().join("honest_best.safetensors").exists(), || {
            "no best checkpoint".into()
        })
    });
}

fn say(_: String) {}

#[test]
fn hardening_distills_attacks_and_replays() {
    // Distilled, the network *is* majority on every reachable view: the same optimum.
    let dir = tempfile::tempdir().unwrap();
    let res = load(
        &experiment("harden.toml"),
        &["env.n=3", "harden.iterations=0", "harden.attempts=1"],
    );
    let rows = selfplay::games::consensus::harden::harden(&res, dir.path(), &say).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].optimal_attack_rate, 0.5,
        "majority's optimum at n = 3"
    );
    let table = std::fs::read_to_string(dir.path().join("protocol.txt")).unwrap();
    assert!(
        table.contains("acts exactly as scripted `majority`"),
        "{table}"
    );
    // Out of iterations unverified, the next attempt starts over: new
    // weights, iteration 0 again.
    let dir = tempfile::tempdir().unwrap();
    let res = load(
        &experiment("harden.toml"),
        &[
            "env.n=3",
            "honest.kind=learned",
            "harden.iterations=0",
            "harden.attempts=2",
        ],
    );
    let rows = selfplay::games::consensus::harden::harden(&res, dir.path(), &say).unwrap();
    let at: Vec<(usize, usize, bool)> = rows
        .iter()
        .map(|r| (r.attempt, r.iteration, r.verified))
        .collect();
    assert_eq!(at, [(0, 0, false), (1, 0, false)], "{rows:#?}");
    // One iteration from scratch: an attacker trained to the optimum, every
    // counterexample queued for replay, the honest team retrained.
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "env.n=3",
        "honest.kind=learned",
        "harden.iterations=1",
        "harden.attempts=1",
        "harden.defend_episodes=4096",
        "harden.attack_episodes=8192",
        "harden.verify_every=0",
    ];
    let res = load(&experiment("harden.toml"), &sets);
    let rows = selfplay::games::consensus::harden::harden(&res, dir.path(), &say).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].attack_rate,
        Some(rows[0].optimal_attack_rate),
        "{rows:#?}"
    );
    assert_eq!(rows[1].replays as u64, rows[0].broken_instances);
    // Epochs of 2048 fresh episodes and 256 replays until 4096 are played.
    assert_eq!(
        (rows[1].pool, rows[1].honest_episodes),
        (1, 2 * (2048 + 256))
    );
    assert!(dir.path().join("honest.safetensors").exists());
}

#[test]
fn learned_slush_agrees_on_three_versus_two_and_beats_slush_at_the_majority() {
    let dir = tempfile::tempdir().unwrap();
    let sets: Vec<String> = ["train.episodes=8192", "eval.episodes=5000"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let job = slush_job(&experiment("slush.toml"), &sets).expect("a slush experiment");
    let rows = selfplay::games::sampling::game::run(&job, dir.path(), &|_| {}).unwrap();
    let slush = &rows[0];
    let learned = rows.last().unwrap();
    assert_eq!(
        (slush.honest.as_str(), learned.honest.as_str()),
        ("slush", "learned")
    );
    // The target: at least 95% agreement on 3-vs-2 splits, within Slush's
    // round budget, no worse than Slush; and the majority, more often.
    assert!(learned.agreement_rate >= 0.95, "{rows:#?}");
    assert!(
        learned.agreement_rate >= slush.agreement_rate - 0.01,
        "{rows:#?}"
    );
    assert!(learned.majority_rate > slush.majority_rate, "{rows:#?}");
    assert!(learned.mean_decision_round <= job.spec.rounds as f64);
}

/// A learned Byzantine team in the sampling game, against scripted Slush
/// (4 honest + 1 Byzantine) and Snowflake (3 + 2): at reduced size it gets
/// most of the exact optimum of an answerer that sees what it sees, and no
/// row's attack rate is above that optimum beyond its Wilson interval.
#[test]
fn a_learned_slush_attacker_nears_the_exact_optimum_and_never_passes_it() {
    for (protocol, f, share) in [("slush", 1, 0.8), ("snowflake", 2, 0.8)] {
        let dir = tempfile::tempdir().unwrap();
        let sets: Vec<String> = [
            "train.episodes=24576".to_string(),
            "eval.episodes=4000".into(),
            format!("honest.protocol={protocol}"),
            format!("env.f={f}"),
        ]
        .to_vec();
        let job = slush_job(&experiment("slush_attack.toml"), &sets).expect("a slush experiment");
        selfplay::games::sampling::game::run(&job, dir.path(), &|_| {}).unwrap();
        let rows = selfplay::games::sampling::score::read(&dir.path().join("metrics.csv")).unwrap();
        for r in &rows {
            let opt = r.metrics.optimal_attack_rate.unwrap();
            assert!(r.attack.attack_rate_low <= opt, "{protocol}: {r:#?}");
            assert_eq!(
                (r.metrics.honest.as_str(), r.metrics.byzantine.as_str()),
                (protocol, "learned")
            );
        }
        let (first, last) = (&rows[0], rows.last().unwrap());
        let opt = last.metrics.optimal_attack_rate.unwrap();
        assert!(
            last.attack.attack_rate >= share * opt,
            "{protocol}, f = {f}: {} of optimum {opt}",
            last.attack.attack_rate
        );
        // It learned that: the untrained network is far below.
        assert!(first.attack.attack_rate < 0.5 * opt, "{first:#?}");
        assert!(dir.path().join("byzantine.safetensors").exists());
    }
}

/// A trivial protocol against a learned attacker paid for breaking
/// correctness: "always decide 0" ignores every answer, so whatever the
/// attacker learns, it breaks correctness exactly on unanimous 1s, 1 in 16
/// of the inputs of 4 honest nodes; the row's exact optimum says 1/16 and
/// the sampled rate sits within 5 standard errors of it.
#[test]
fn a_constant_protocol_is_broken_only_on_unanimous_inputs_of_the_other_colour() {
    let dir = tempfile::tempdir().unwrap();
    let sets: Vec<String> = [
        "train.episodes=2048",
        "train.eval_every=1024",
        "eval.episodes=8000",
        "honest.protocol=always0",
        "slush.attack_goal=correctness",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let job = slush_job(&experiment("slush_attack.toml"), &sets).expect("a slush experiment");
    selfplay::games::sampling::game::run(&job, dir.path(), &|_| {}).unwrap();
    let rows = selfplay::games::sampling::score::read(&dir.path().join("metrics.csv")).unwrap();
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r.metrics.honest, "always0");
        assert_eq!(r.attack.attack_goal, "correctness");
        assert_eq!(r.metrics.optimal_attack_rate, Some(1.0 / 16.0));
        assert_eq!(
            r.attack.optimal_attack_rate_seeing_samples,
            Some(1.0 / 16.0)
        );
        let (p, n) = (1.0 / 16.0, r.metrics.eval_episodes as f64);
        let se = (p * (1.0 - p) / n).sqrt();
        assert!((r.attack.attack_rate - p).abs() <= 5.0 * se, "{r:#?}");
        // Never a disagreement, and the engine's honest win is the complement.
        assert_eq!(r.metrics.agreement_rate, 1.0);
        assert!((r.metrics.honest_win_rate + r.attack.attack_rate - 1.0).abs() < 1e-12);
    }
}

/// Both teams learn (co-training): each row scores the honest team's greedy
/// protocol as it stands against the exact optimum, recomputed per row.
#[test]
fn slush_cotraining_scores_every_row_against_the_optimum_of_its_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let sets: Vec<String> = [
        "train.episodes=4096",
        "train.eval_every=2048",
        "eval.episodes=1000",
        "honest.kind=learned",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let job = slush_job(&experiment("slush_attack.toml"), &sets).expect("a slush experiment");
    let rows = selfplay::games::sampling::game::run(&job, dir.path(), &|_| {}).unwrap();
    assert_eq!(rows.len(), 3);
    for r in &rows[1..] {
        assert!(r.honest_entropy.is_some() && r.byzantine_entropy.is_some());
        assert!(r.optimal_attack_rate.is_some());
        assert_eq!(
            (r.honest.as_str(), r.byzantine.as_str()),
            ("learned", "learned")
        );
    }
    for team in ["honest", "byzantine"] {
        assert!(dir.path().join(format!("{team}.safetensors")).exists());
    }
}

#[test]
fn anonymous_channels_learn_and_verify() {
    // No Byzantine agent: the learned protocol under counts only is verified.
    let dir = tempfile::tempdir().unwrap();
    let res = load(
        &experiment("honest_consensus.toml"),
        &[
            "env.identity=anonymous",
            "train.episodes=8192",
            "eval.episodes=500",
        ],
    );
    let last = run(&res, dir.path()).pop().unwrap();
    assert_eq!(
        (last.identity.as_str(), last.verified),
        ("anonymous", Some(true))
    );
    // With a learning attacker: every row scored exactly against the optimum,
    // and the pair settles where the honest protocol loses only unanimous 1s.
    let dir = tempfile::tempdir().unwrap();
    let res = load(
        &experiment("anonymous.toml"),
        &["train.episodes=8192", "eval.episodes=500"],
    );
    let rows = run(&res, dir.path());
    for r in &rows {
        assert!(r.exact_attack_rate <= r.optimal_attack_rate);
    }
    let last = rows.last().unwrap();
    assert_eq!(last.optimal_attack_rate, Some(0.125), "{rows:#?}");
    let text = selfplay::games::consensus::explain::from_checkpoint(
        &dir.path().join("honest.safetensors"),
    )
    .and_then(|(spec, p)| {
        selfplay::games::consensus::explain::explain(&spec, &p, &envs::consensus::Limits::default())
    })
    .unwrap();
    // `explain` shows what it is: it never decides 1.
    assert!(
        text.contains("commit 0") && !text.contains("commit 1"),
        "{text}"
    );
}

#[test]
fn atomic_commit_is_learned_and_verified() {
    // Both teams from zero knowledge, under crash faults; the verifier
    // checks every row over every crash. docs/results.md: 5 of 5 seeds
    // first verified between 40,960 and 65,536 episodes. Here 81,920 (25%
    // over 65,536), stopping when verified, and 4 of 5 must.
    k_of_n(4, &[1, 2, 3, 4, 5], |seed| {
        let dir = tempfile::tempdir().unwrap();
        let seed = format!("seed={seed}");
        let res = load(
            &experiment("atomic_commit.toml"),
            &[
                &seed,
                "train.episodes=81920",
                "train.stop_when_verified=true",
                "eval.episodes=500",
            ],
        );
        let rows = run(&res, dir.path());
        assert_eq!(rows[0].faults, "crash");
        verified_at_the_end(&rows)?;
        // The kept protocol is the verified one, as `selfplay verify` sees it.
        let (_, best) = selfplay::games::consensus::explain::greedy_from_checkpoint(
            &dir.path().join("honest_best.safetensors"),
        )
        .unwrap();
        let limits = envs::consensus::Limits::default();
        let report = envs::consensus::verify(&res.spec, &best, &limits).unwrap();
        check(report.verified, || {
            format!("the best checkpoint is not verified: {report:?}")
        })
    });
}

#[test]
fn crash_and_omission_experiments_verify_floodset() {
    for name in ["crash.toml", "omission.toml"] {
        let dir = tempfile::tempdir().unwrap();
        let res = load(&experiment(name), &["eval.episodes=1000"]);
        for r in run(&res, dir.path()) {
            assert_eq!((r.honest.as_str(), r.verified), ("floodset", Some(true)));
            assert_eq!(r.honest_win_rate, 1.0, "{name}: {r:?}");
        }
        // Deciding after one exchange: one crash splits the honest agents.
        let res = load(&experiment(name), &["eval.episodes=1000", "env.rounds=2"]);
        let r = &run(&res, dir.path())[0];
        assert!(r.optimal_attack_rate.unwrap() > 0.0, "{name}: {r:?}");
    }
}

#[test]
fn broadcast_is_learned_and_verified() {
    // Both teams from zero knowledge; every row verified over every
    // placement, sender input and Byzantine choice. docs/results.md: 5 of 5
    // seeds first verified between 32,768 and 65,536 episodes. Here 81,920
    // (25% over 65,536), stopping when verified, and 4 of 5 must.
    k_of_n(4, &[1, 2, 3, 4, 5], |seed| {
        let dir = tempfile::tempdir().unwrap();
        let seed = format!("seed={seed}");
        let res = load(
            &experiment("broadcast.toml"),
            &[
                &seed,
                "train.episodes=81920",
                "train.stop_when_verified=true",
                "eval.episodes=500",
            ],
        );
        verified_at_the_end(&run(&res, dir.path()))
    });
    let dir = tempfile::tempdir().unwrap();
    // The scripted baseline in the same game: Dolev-Strong, verified, and
    // never beaten by the scripted equivocator.
    let res = load(
        &experiment("broadcast.toml"),
        &[
            "honest.kind=\"scripted\"",
            "honest.protocol=\"dolev_strong\"",
            "byzantine.kind=\"scripted\"",
            "byzantine.adversary=\"equivocate\"",
            "eval.episodes=2000",
        ],
    );
    for r in run(&res, dir.path()) {
        assert_eq!(r.verified, Some(true), "{r:?}");
        assert_eq!(r.honest_win_rate, 1.0, "{r:?}");
    }
}

#[test]
fn interactive_consistency_is_learned_and_verified() {
    // One broadcast per entry; a row is verified when no entry of any
    // placement and input vector can be broken. docs/results.md: 5 of 5
    // seeds first verified at 32,768 or 40,960 episodes. Here 51,200 (25%
    // over 40,960), stopping when verified, and 4 of 5 must.
    k_of_n(4, &[1, 2, 3, 4, 5], |seed| {
        let dir = tempfile::tempdir().unwrap();
        let seed = format!("seed={seed}");
        let res = load(
            &experiment("interactive_consistency.toml"),
            &[
                &seed,
                "train.episodes=51200",
                "train.stop_when_verified=true",
                "eval.episodes=500",
            ],
        );
        let rows = run(&res, dir.path());
        assert_eq!(rows[0].comm, "interactive_consistency");
        // Instances are vectors: 4 placements x 2^3 honest inputs.
        assert_eq!(rows.last().unwrap().instances, Some(32));
        verified_at_the_end(&rows)
    });
}

#[test]
fn delays_break_the_synchronous_baselines() {
    let dir = tempfile::tempdir().unwrap();
    // Partial synchrony: the learned attacker (faulty agent and scheduler
    // at once) reaches the verifier's optimum of 0.5 against signed_relay.
    // Seed 1 gets there at 24,576 episodes.
    let res = load(
        &experiment("partial_sync.toml"),
        &["train.episodes=24576", "eval.episodes=500"],
    );
    let last = run(&res, dir.path()).pop().unwrap();
    assert_eq!(last.synchrony, "partially_synchronous");
    assert_eq!(last.optimal_attack_rate, Some(0.5));
    assert_eq!(last.exact_attack_rate, Some(0.5), "{last:?}");
    // Stabilising at round 2, held round-1 messages still arrive in time.
    let res = load(
        &experiment("partial_sync.toml"),
        &[
            "env.gst=2",
            "byzantine.kind=\"scripted\"",
            "eval.episodes=500",
        ],
    );
    assert_eq!(run(&res, dir.path())[0].verified, Some(true));
    // Asynchrony against floodset under crash faults: 0.125, and 0.75 once
    // a message can be held past the end.
    for (delta, optimum) in [(1, 0.125), (2, 0.75)] {
        let res = load(
            &experiment("asynchronous.toml"),
            &[
                &format!("env.delta={delta}"),
                "byzantine.kind=\"scripted\"",
                "byzantine.adversary=\"hold\"",
                "eval.episodes=500",
            ],
        );
        let r = &run(&res, dir.path())[0];
        assert_eq!(r.optimal_attack_rate, Some(optimum), "{r:?}");
        assert!(r.exact_attack_rate.unwrap() <= optimum);
    }
}

#[test]
fn a_protocol_learned_at_n_4_with_pki_is_verified() {
    // Both teams from zero knowledge, the honest one on canonical views.
    // docs/results.md: seeds 3, 1, 4 and 5 first verify between 28,672 and
    // 40,960 episodes, seed 2 at 108,544. Here 51,200 (25% over 40,960),
    // stopping when verified, and 3 of 5 must.
    k_of_n(3, &[1, 2, 3, 4, 5], |seed| {
        let dir = tempfile::tempdir().unwrap();
        let set = format!("seed={seed}");
        let res = load(
            &experiment("pki_inference_n4.toml"),
            &[&set, "train.episodes=51200", "eval.episodes=500"],
        );
        let rows = run(&res, dir.path());
        verified_at_the_end(&rows)?;
        check(rows.last().unwrap().episodes < 51200, || {
            "it did not stop when verified".into()
        })?;
        // Verified again from the checkpoint, over every placement, input
        // and Byzantine choice.
        let (spec, best) = selfplay::games::consensus::explain::from_checkpoint(
            &dir.path().join("honest_best.safetensors"),
        )
        .unwrap();
        assert!(spec.canonical_views());
        let limits = envs::consensus::Limits::default();
        let report = envs::consensus::verify(&spec, &best, &limits).unwrap();
        check(report.verified && report.instances == 32, || {
            format!("the best checkpoint: {report:?}")
        })?;
        // Seed 3's protocol waits for the signed relays, sending in rounds
        // 1 and 2 (docs/learning.md shows its table).
        if seed == 3 {
            let table =
                selfplay::games::consensus::explain::explain(&spec, &best, &limits).unwrap();
            check(
                table.contains("round 1: 2 views: send in 2")
                    && table.contains("round 2: 40 views: send in 40"),
                || format!("seed 3's table: {table}"),
            )?;
        }
        Ok(())
    });
}

#[test]
fn majority_is_hardened_to_a_verified_protocol_at_n_4() {
    // experiments/harden.toml as it is, seed 1 (docs/results.md: it verifies
    // in its first attempt, at the first retraining). Majority falls at 0.375; one attacker,
    // then retraining with the verifier in the loop, which stops it at a
    // verified protocol.
    let dir = tempfile::tempdir().unwrap();
    let res = load(&experiment("harden.toml"), &[]);
    let rows = selfplay::games::consensus::harden::harden(&res, dir.path(), &say).unwrap();
    assert_eq!(rows[0].optimal_attack_rate, 0.375, "majority at n = 4");
    let last = rows.last().unwrap();
    assert!(last.verified, "{rows:#?}");
    assert_eq!(
        (rows.len(), last.attempt, last.pool),
        (2, 0, 1),
        "{rows:#?}"
    );
    assert!(last.honest_episodes < res.exp.harden.defend_episodes);
    // Its decision table: it waits for the signed relays, then decides.
    let table = std::fs::read_to_string(dir.path().join("protocol.txt")).unwrap();
    assert!(
        table.contains("(0 of 32 instances broken): verified"),
        "{table}"
    );
    assert!(table.contains("round 2: 40 views: send in 40"), "{table}");
    assert!(table.contains("round 3 in short"), "{table}");
    // Three 0s and one other value: if the other is the Byzantine agent,
    // validity forces 0, and the agents that cannot tell agree with them.
    for peers in ["{0} {0} {0}", "{0} {0} {1}", "{0} {0} {0,1}", "{} {0} {0}"] {
        let line = format!("input 0 | peers {peers:<17} -> commit 0 in ");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&format!("  {line}")) && !l.contains("commit 1")),
            "{peers}: {table}"
        );
    }
}

fn is_reliable_broadcast(path: &Path) -> bool {
    rb_job(path, &[]).is_some()
}

/// The experiment at `path` as its game reads it, and the game's name.
fn experiment_of(path: &Path, sets: &[String]) -> (config::Experiment, &'static str) {
    let registry = selfplay::games::Registry::built_in();
    let (exp, game) =
        selfplay::games::load_experiment(&registry, path, sets).unwrap_or_else(|e| panic!("{e}"));
    (exp, game.name())
}

/// The sampling-game experiment at `path`, checked (`None`: another game).
fn slush_job(path: &Path, sets: &[String]) -> Option<selfplay::games::sampling::game::SlushJob> {
    let (exp, game) = experiment_of(path, sets);
    (game == "slush").then(|| {
        selfplay::games::sampling::game::SlushJob::new(exp).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The reliable-broadcast experiment at `path`, checked (`None`: another game).
fn rb_job(path: &Path, sets: &[String]) -> Option<selfplay::games::broadcast::game::RbJob> {
    let (exp, game) = experiment_of(path, sets);
    (game == "reliable_broadcast").then(|| {
        selfplay::games::broadcast::game::RbJob::new(exp).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Every reliable-broadcast experiment runs at reduced size: a row per
/// evaluation, each with the verifier's figures (or none when the search
/// passes the reduced `rb.max_states`), a learned attack inside its Wilson
/// interval, and the networks saved.
#[test]
fn reliable_broadcast_experiments_learn_at_reduced_size() {
    let files: Vec<PathBuf> = experiment_files()
        .into_iter()
        .filter(|p| is_reliable_broadcast(p))
        .collect();
    assert!(files.len() >= 2, "rb_learn.toml and rb_learn_crash.toml");
    for path in files {
        let dir = tempfile::tempdir().unwrap();
        let sets: Vec<String> = [
            "train.episodes=1024",
            "train.batch=256",
            "train.eval_every=512",
            "eval.episodes=200",
            "eval.batch=200",
            "rb.max_states=100000",
            "train.stop_when_verified=false",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let job = rb_job(&path, &sets).expect("filtered above");
        let rows = selfplay::games::broadcast::game::run(&job, dir.path(), &|_| {}).unwrap();
        let shown = path.display();
        assert_eq!(
            rows.iter().map(|r| r.episodes).collect::<Vec<_>>(),
            [0, 512, 1024],
            "{shown}"
        );
        for r in &rows {
            assert_eq!(r.eval_episodes, 200, "{shown}");
            assert!(
                r.attack_rate_low <= r.attack_rate && r.attack_rate <= r.attack_rate_high,
                "{shown}: {r:?}"
            );
            // Every row has a verdict, even under this small limit: a
            // protocol this young is refuted within a few states, and the
            // rows stop each instance's search at its first violation
            // (the whole search would pass the limit first).
            let o = r.optimal_attack_rate.expect("a verdict on every row");
            // No sampled attack beats the exact optimum.
            assert!(r.attack_rate_low <= o, "{shown}: {r:?}");
            assert_eq!(r.verified, Some(o == 0.0), "{shown}");
            assert_eq!(r.broken.is_empty(), o == 0.0, "{shown}: {r:?}");
        }
        assert_eq!(
            selfplay::games::broadcast::game::read(&dir.path().join("metrics.csv")).unwrap(),
            rows,
            "{shown}: metrics.csv reads back"
        );
        for f in [
            "honest.safetensors",
            "byzantine.safetensors",
            "state.safetensors",
        ] {
            assert!(dir.path().join(f).exists(), "{shown}: {f}");
        }
    }
}

/// The Snowball experiment at n = 300 with 10% Byzantine nodes, 200 rounds:
/// without answers every episode decides in agreement; the informed
/// rebalancing attack stalls most episodes, and at least as many as the
/// uninformed one. Measured (seed 1, 20 episodes): silent 0, rebalance
/// 11, informed 20 stalled.
#[test]
fn snowball_experiment_runs_at_reduced_size() {
    use selfplay::games::snowball::game::{SnowballJob, SnowballRun};
    let sets: Vec<String> = [
        "env.n=300",
        "env.f=30",
        "snowball.rounds=200",
        "eval.episodes=20",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (exp, game) = experiment_of(&experiment("snowball_liveness.toml"), &sets);
    assert_eq!(game, "snowball");
    let job = SnowballJob::new(exp).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let rows = selfplay::runner::run(
        &mut SnowballRun::new(&job).unwrap(),
        dir.path(),
        &|_| {},
        true,
        false,
    )
    .unwrap();
    let row = |name: &str| rows.iter().find(|r| r.adversary == name).unwrap();
    let silent = row("silent");
    assert_eq!((silent.stalled, silent.violations), (0, 0), "{silent:?}");
    assert!(silent.mean_rounds.unwrap() >= 20.0, "{silent:?}");
    let (blind, informed) = (row("rebalance"), row("rebalance_informed"));
    assert!(informed.stalled >= 15, "{informed:?}");
    assert!(informed.stalled >= blind.stalled, "{blind:?} {informed:?}");
    assert!(rows.iter().all(|r| r.eval_episodes == 20));
    let written = selfplay::games::snowball::game::read(&dir.path().join("metrics.csv")).unwrap();
    assert_eq!(written, rows);
}

/// The learned Snowball adversary (issue 30) at reduced size: a training
/// run writes the same metrics and checkpoint bytes twice from one seed,
/// every row is a whole sample, and its network, frozen, plays a network
/// of another size (its view does not grow with n) as the row `learned`.
#[test]
fn snowball_learned_trains_the_same_bytes_and_plays_any_n() {
    use selfplay::games::snowball::game::{SnowballJob, SnowballRun};
    let reduced = |extra: &[&str]| -> Vec<String> {
        [
            "env.n=200",
            "env.f=10",
            "snowball.rounds=120",
            "snowball.train_rounds=60",
            "train.episodes=16",
            "train.eval_every=8",
            "eval.episodes=6",
            "eval.batch=6",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };
    let run = |sets: &[String], dir: &Path| {
        let (exp, game) = experiment_of(&experiment("snowball_learned.toml"), sets);
        assert_eq!(game, "snowball");
        let job = SnowballJob::new(exp).unwrap_or_else(|e| panic!("{e}"));
        selfplay::runner::run(
            &mut SnowballRun::new(&job).unwrap(),
            dir,
            &|_| {},
            true,
            false,
        )
        .unwrap()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rows = run(&reduced(&[]), a.path());
    run(&reduced(&[]), b.path());
    for file in ["metrics.csv", "byzantine.safetensors"] {
        let read = |d: &Path| std::fs::read(d.join(file)).unwrap();
        assert_eq!(read(a.path()), read(b.path()), "{file}");
    }
    // Two scripted rows, then the learned one at 0, 8 and 16 episodes.
    let learned: Vec<_> = rows.iter().filter(|r| r.adversary == "learned").collect();
    let at: Vec<_> = learned.iter().map(|r| r.train_episodes).collect();
    assert_eq!(at, vec![Some(0), Some(8), Some(16)]);
    for r in &rows {
        assert_eq!(r.eval_episodes, 6, "{r:?}");
        assert!(r.stalled <= 6 && r.violations <= 6, "{r:?}");
        // An episode that finished took at least beta rounds.
        assert!(r.mean_rounds.is_none_or(|m| m >= 20.0), "{r:?}");
        assert!(r.node_samples > 0, "{r:?}");
    }
    let ckpt = a.path().join("byzantine.safetensors");
    let frozen = reduced(&[
        "env.n=600",
        "env.f=30",
        "byzantine.kind=\"frozen\"",
        "eval.adversaries=[]",
    ]);
    let mut frozen = frozen;
    frozen.push(format!("byzantine.checkpoint=\"{}\"", ckpt.display()));
    let c = tempfile::tempdir().unwrap();
    let rows = run(&frozen, c.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].adversary.as_str(), rows[0].n), ("learned", 600));
    assert_eq!(rows[0].eval_episodes, 6);
}
