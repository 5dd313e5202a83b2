//! The command line as a user meets it.

mod common;
use common::selfplay;
use std::process::Command;

/// Runs a command that must fail with exit code 2; returns what it said.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn verify_json_reports_the_textbook_figures() {
    let out = selfplay()
        .args([
            "verify",
            "--protocol",
            "signed_relay",
            "--n",
            "4",
            "--f",
            "1",
            "--identity",
            "pki",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["optimal_attack_rate"], 0.0);
    assert_eq!(v["verified"], true);
    assert_eq!(v["instances"], 32);
    assert_eq!(v["broken_instances"], 0);
    assert!(v["counterexample"].is_null());

    let out = selfplay()
        .args([
            "verify",
            "--protocol",
            "majority",
            "--n",
            "3",
            "--f",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["optimal_attack_rate"], 0.5);
    assert_eq!(v["verified"], false);
    assert_eq!(v["counterexample"]["violated"][0], "agreement");
}

#[test]
fn verify_game_slush_prints_the_exact_adversary_of_the_sampling_game() {
    let args = |extra: &[&str]| {
        let mut a = vec![
            "verify",
            "--game",
            "slush",
            "--protocol",
            "snowflake",
            "--n",
            "5",
            "--f",
            "1",
            "--k",
            "3",
            "--alpha",
            "2",
            "--rounds",
            "8",
            "--json",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let json = |extra: &[&str]| {
        let out = selfplay().args(args(extra)).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let one = json(&["--ones", "1"]);
    assert_eq!(one["ones"], 1);
    assert_eq!(one["beta"], 3);
    let (d, m) = (
        one["optimal_attack_rate"].as_f64().unwrap(),
        one["optimal_majority_attack_rate"].as_f64().unwrap(),
    );
    assert!(0.0 < d && d <= m && m <= 1.0, "{one}");
    // Without --ones: every split, and the engine's uniform inputs on top.
    let all = json(&[]);
    assert!(all["ones"].is_null());
    assert_eq!(all["splits"].as_array().unwrap().len(), 5);
    assert_eq!(all["splits"][1]["optimal_attack_rate"].as_f64(), Some(d));
    let err = refused(selfplay().args(args(&["--ones", "9"])));
    assert!(
        err.contains("--ones 9: there are only 4 honest agents"),
        "{err}"
    );
    let err = refused(selfplay().args([
        "verify",
        "--protocol",
        "slush",
        "--n",
        "5",
        "--f",
        "1",
        "--alpha",
        "2",
    ]));
    assert!(
        err.contains("--alpha: --game consensus does not read it; it is a flag of --game slush"),
        "{err}"
    );
}

#[test]
fn verify_game_slush_scores_a_learned_checkpoint_as_the_runner_plays_it() {
    // A short training run of the sampling game; its last row's sampled
    // agreement and majority rates (no Byzantine nodes, the 3-2 split) must
    // match the exact figures of the checkpoint's greedy table within 5
    // standard errors: the table is the protocol the runner plays.
    let dir = tempfile::tempdir().unwrap();
    let out = selfplay()
        .args([
            "experiments/slush.toml",
            "--set",
            "train.episodes=8192",
            "--set",
            "train.eval_every=8192",
            "--set",
            "eval.episodes=4000",
            "--quiet",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let col = |name: &str| -> f64 {
        last[head.iter().position(|&h| h == name).unwrap()]
            .parse()
            .unwrap()
    };
    assert_eq!(
        last[head.iter().position(|&h| h == "honest").unwrap()],
        "learned"
    );
    let ckpt = dir.path().join("honest.safetensors");
    let out = selfplay()
        .args([
            "verify",
            "--game",
            "slush",
            "--n",
            "5",
            "--f",
            "0",
            "--ones",
            "2",
            "--json",
            "--checkpoint",
        ])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["protocol"], "learned");
    assert!(v["alpha"].is_null());
    let n = col("eval_episodes");
    for (sampled, exact) in [
        (
            col("agreement_rate"),
            1.0 - v["optimal_attack_rate"].as_f64().unwrap(),
        ),
        (
            col("majority_rate"),
            1.0 - v["optimal_majority_attack_rate"].as_f64().unwrap(),
        ),
    ] {
        let se = (exact * (1.0 - exact) / n).sqrt();
        assert!(
            (sampled - exact).abs() <= 5.0 * se + 1e-9,
            "sampled {sampled}, exact {exact}"
        );
    }
    // The run's own row carries the same exact figure (f = 0: both sights agree).
    let exact = v["optimal_attack_rate"].as_f64().unwrap();
    assert_eq!(col("optimal_attack_rate_seeing_samples"), exact);
    assert_eq!(col("optimal_attack_rate"), exact);
    // explain reads it as a rule over (round, colour, counts), named or new.
    let out = selfplay().arg("explain").arg(&ckpt).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        (text.contains("it is ") || text.contains("something new"))
            && text.contains("round 8, either colour: commit on")
            && text.contains("exact optimal attack rate (disagreement"),
        "{text}"
    );
    let err = refused(
        selfplay()
            .args([
                "verify",
                "--game",
                "slush",
                "--n",
                "5",
                "--f",
                "1",
                "--k",
                "2",
                "--checkpoint",
            ])
            .arg(&ckpt),
    );
    assert!(err.contains("was trained with k = 3"), "{err}");
}

#[test]
fn verify_text_shows_a_readable_counterexample() {
    let out = selfplay()
        .args([
            "verify",
            "--protocol",
            "signed_relay",
            "--n",
            "3",
            "--f",
            "1",
            "--identity",
            "authenticated",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("optimal attack rate: 0.75 (9 of 12 instances broken)"),
        "{text}"
    );
    assert!(
        text.contains("round 2:") && text.contains("(byzantine) to"),
        "{text}"
    );
    assert!(text.contains("no protocol can be verified"), "{text}");
}

#[test]
fn verify_refuses_searches_too_large_to_finish() {
    let err = refused(selfplay().args([
        "verify",
        "--protocol",
        "signed_relay",
        "--n",
        "10",
        "--f",
        "1",
        "--identity",
        "pki",
    ]));
    assert!(
        err.contains("refusing") && err.contains("protocol evaluations"),
        "{err}"
    );
}

#[test]
fn bad_config_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[env]\nn = 4\nf = 2\nidentity = \"pki\"\nsynchrony = \"asynchronous\"\ndelta = 3\n",
    )
    .unwrap();
    let err = refused(selfplay().arg(&file));
    assert!(
        err.contains("bad.toml: env.delta = 3: a message can be held 1 or 2 rounds"),
        "{err}"
    );
    std::fs::write(&file, "[env]\nn = 4\nfault = 2\n").unwrap();
    let err = String::from_utf8(selfplay().arg(&file).output().unwrap().stderr).unwrap();
    assert!(
        err.contains("bad.toml: env.fault: unknown field `fault`"),
        "{err}"
    );
    let missing = dir.path().join("missing.toml");
    let err = String::from_utf8(selfplay().arg(&missing).output().unwrap().stderr).unwrap();
    assert!(err.contains("missing.toml: cannot read"), "{err}");
}

#[test]
fn default_run_trains_and_writes_results_with_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let status = selfplay()
        .current_dir(dir.path())
        .args(["--out", out.to_str().unwrap(), "--seed", "7", "--quiet"])
        .args([
            "--set",
            "train.episodes=2048",
            "--set",
            "train.eval_every=1024",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("byz_break,7,3,1,2,"),
        "{csv}"
    );
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        config.contains("seed = 7") && config.contains("episodes = 2048"),
        "{config}"
    );
    assert!(out.join("byzantine.safetensors").exists());
}

#[test]
fn a_learned_checkpoint_verifies_like_a_scripted_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hc");
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/experiments/honest_consensus.toml"
    );
    let status = selfplay()
        .args([
            file,
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--set",
            "train.episodes=8192",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let ckpt = out.join("honest.safetensors");
    let args = [
        "verify",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "3",
        "--f",
        "0",
        "--json",
    ];
    let out = selfplay().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["instances"], 8);
    // Explained: the learned protocol is send-then-majority, view by view.
    let text = String::from_utf8(
        selfplay()
            .args(["explain", ckpt.to_str().unwrap()])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("acts exactly as scripted `majority` on every one of these views"),
        "{text}"
    );
    assert!(text.contains("round 1: 2 views: send in 2"), "{text}");
    assert!(
        text.contains("commit 1  <- input 0 | r1: +1:1 +2:1"),
        "{text}"
    );
    // The same checkpoint in a game of another shape is refused with the reason.
    let args = [
        "verify",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "4",
        "--f",
        "1",
    ];
    let err = String::from_utf8(selfplay().args(args).output().unwrap().stderr).unwrap();
    assert!(err.contains("must match its training"), "{err}");
}

#[test]
fn bench_prints_its_figures() {
    // Figures only: speed targets are read off `selfplay bench`, never asserted here.
    let out = selfplay().args(["bench", "--quick"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("episodes/s")
            && text.contains("signed_relay, n=5 f=1 pki (rate 0)")
            && text.contains("REINFORCE episodes trained, anchor settings"),
        "{text}"
    );
}

#[test]
fn bench_json_names_the_stable_keys() {
    let out = selfplay()
        .args(["bench", "--quick", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "engine_episodes_per_s",
        "acting_decisions_per_s",
        "acting_distinct_obs_decisions_per_s",
        "ppo_samples_per_s",
        "reinforce_train_episodes_per_s",
    ] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {v}");
    }
}

#[test]
fn bench_only_lists_every_games_figures_and_tables() {
    // The games own their figures (registry entries); a wrong name lists
    // what each game and the shared part offer.
    let out = selfplay()
        .args(["bench", "--only", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    for name in [
        "engine",
        "reinforce",
        "verify",
        "rb_verify",
        "ppo",
        "acting_distinct",
    ] {
        assert!(err.contains(name), "{name}: {err}");
    }
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Kills a run of `file` once its metrics.csv has `kill_at` lines, checks
/// it was cut short (under `max_lines`) and hands its folder to `partial`,
/// resumes it, and checks it then writes what an uninterrupted run writes:
/// the metrics and both teams' checkpoints and state. Returns the killed
/// run's folder.
fn kill_resume_and_compare(
    dir: &std::path::Path,
    file: &str,
    sets: &[&str],
    kill_at: usize,
    max_lines: usize,
    partial: &dyn Fn(&std::path::Path),
) -> std::path::PathBuf {
    let (killed, whole) = (dir.join("killed"), dir.join("whole"));
    let mut child = selfplay()
        .args([file, "--quiet", "--out", killed.to_str().unwrap()])
        .args(sets)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while lines(&killed.join("metrics.csv")) < kill_at {
        assert!(start.elapsed().as_secs() < 600, "no rows appeared");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = lines(&killed.join("metrics.csv"));
    assert!(
        written > 1 && written < max_lines,
        "{written} lines: the run finished before it was killed"
    );
    partial(&killed);
    let resumed = selfplay()
        .args([file, "--quiet", "--resume", "--out"])
        .arg(&killed)
        .args(sets)
        .status()
        .unwrap();
    assert!(resumed.success());
    let status = selfplay()
        .args([file, "--quiet", "--out"])
        .arg(&whole)
        .args(sets)
        .status()
        .unwrap();
    assert!(status.success());
    for f in [
        "metrics.csv",
        "honest.safetensors",
        "byzantine.safetensors",
        "state.safetensors",
    ] {
        let read = |d: &std::path::Path| std::fs::read(d.join(f)).unwrap();
        assert!(
            read(&killed) == read(&whole),
            "{f} differs after the resume"
        );
    }
    killed
}

/// The sampling game's co-training (learned honest team and learned
/// answerers) killed mid-run and resumed writes what an uninterrupted run
/// writes.
#[test]
fn a_killed_slush_run_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/slush_attack.toml");
    let sets = [
        "--set",
        "train.episodes=16384",
        "--set",
        "train.eval_every=512",
        "--set",
        "train.batch=512",
        "--set",
        "eval.episodes=500",
        "--set",
        "honest.kind=learned",
    ];
    kill_resume_and_compare(dir.path(), file, &sets, 6, 34, &|_| {});
}

/// The same for reliable broadcast, both teams learning; and a resume with
/// another config is refused, naming the folder.
#[test]
fn a_killed_reliable_broadcast_run_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/rb_learn.toml");
    let sets = [
        "--set",
        "train.episodes=2048",
        "--set",
        "train.batch=128",
        "--set",
        "train.eval_every=256",
        "--set",
        "eval.episodes=100",
        "--set",
        "eval.batch=100",
        "--set",
        "rb.max_states=20000",
    ];
    let killed = kill_resume_and_compare(dir.path(), file, &sets, 4, 10, &|_| {});
    // Under rb.goal = "rules" each row has one more column, read back on
    // the resume and written again with the rows after it.
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/experiments/rb_learn_rules.toml"
    );
    let again = tempfile::tempdir().unwrap();
    let resumed = kill_resume_and_compare(again.path(), rules, &sets, 4, 10, &|_| {});
    let metrics = std::fs::read_to_string(resumed.join("metrics.csv")).unwrap();
    assert!(
        metrics.lines().next().unwrap().contains(",rules,"),
        "{metrics}"
    );
    let out = selfplay()
        .args([file, "--quiet", "--resume", "--seed", "2", "--out"])
        .arg(&killed)
        .args(sets)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("different config"), "{err}");
}

#[test]
fn a_killed_run_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/cotrain.toml");
    let sets = [
        "--set",
        "train.episodes=16384",
        "--set",
        "train.eval_every=512",
        "--set",
        "train.batch=512",
        "--set",
        "train.replay_counterexamples=true",
    ];
    // Killed mid-run, once a few rows are written (33 rows and a header
    // when finished). The run replays the verifier's counterexamples, so the
    // resume must restore those too. What it had written is readable as it
    // stands.
    let killed = kill_resume_and_compare(dir.path(), file, &sets, 6, 34, &|killed| {
        selfplay::export::read_metrics(&killed.join("metrics.csv")).unwrap();
    });
    // timing.csv keeps the killed segment's wall clock beside the resume's.
    let timing = std::fs::read_to_string(killed.join("timing.csv")).unwrap();
    for stage in [",segment 0,", ",segment 1,", ",total,"] {
        assert!(timing.contains(stage), "{stage}: {timing}");
    }
    // A resume with other settings is refused, not mixed in.
    let out = selfplay()
        .args([
            file,
            "--quiet",
            "--resume",
            "--out",
            killed.to_str().unwrap(),
            "--seed",
            "9",
        ])
        .args(sets)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("made by a different config"));
}

/// A learning rate that would make training diverge is refused before the
/// run starts, naming the key (the divergence check stays as a last guard,
/// see `runner::tests`).
#[test]
fn a_diverging_learning_rate_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/byz_break.toml");
    let err = refused(
        selfplay()
            .args([file, "--quiet", "--out", dir.path().to_str().unwrap()])
            .args([
                "--set",
                "byzantine.learn.lr=1e38",
                "--set",
                "byzantine.learn.max_grad_norm=1e30",
            ]),
    );
    assert!(
        err.contains("byzantine.learn.lr = 1") && err.contains("Adam diverges"),
        "{err}"
    );
    assert!(!dir.path().join("config.toml").exists(), "nothing written");
}

#[test]
fn sweeps_list_run_skip_and_combine() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sw.toml");
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/experiments/byz_break.toml"
    ))
    .unwrap();
    let text = format!("{base}\n[sweep]\nseeds = [1, 2]\ngrid = {{ \"env.n\" = [3, 4] }}\n");
    std::fs::write(&file, text.replace("episodes = 20000", "episodes = 2048")).unwrap();
    let root = dir.path().join("results");
    let sweep = |extra: &[&str]| {
        selfplay()
            .args([
                "sweep",
                file.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let listed = String::from_utf8(sweep(&["--list"]).stdout).unwrap();
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(
        listed.lines().nth(3).unwrap().contains("'env.n=4'") && listed.contains("'seed=2'"),
        "{listed}"
    );
    let one = sweep(&["--index", "2"]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    let combined = root.join("sw/metrics.csv");
    assert_eq!(lines(&combined), 1 + 2, "one run of two rows so far");
    let all = String::from_utf8(sweep(&["--jobs", "2"]).stdout).unwrap();
    assert!(
        all.contains("[2] env.n=4,seed=1: finished before, skipped"),
        "{all}"
    );
    assert_eq!(lines(&combined), 1 + 4 * 2);
    // A sweep run is the same run as on its own.
    let alone = dir.path().join("alone");
    let status = selfplay()
        .args([
            file.to_str().unwrap(),
            "--quiet",
            "--seed",
            "2",
            "--set",
            "env.n=4",
        ])
        .args([
            "--set",
            "name=\"sw/env.n=4,seed=2\"",
            "--out",
            alone.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let read = |p: std::path::PathBuf| std::fs::read(p).unwrap();
    assert_eq!(
        read(alone.join("metrics.csv")),
        read(root.join("sw/env.n=4,seed=2/metrics.csv"))
    );
    let bad = sweep(&["--index", "9"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--index 9: the sweep has 4 runs"));
}

/// Every game runs through the one runner, so every game sweeps: a
/// reliable-broadcast and a sampling-game sweep over two seeds each write
/// their runs and the combined CSV, and a sweep run is the run on its own.
#[test]
fn sweeps_run_every_game() {
    let dir = tempfile::tempdir().unwrap();
    for (experiment, sets) in [
        (
            "rb_learn_crash",
            &[
                "train.episodes=512",
                "train.batch=128",
                "train.eval_every=256",
                "eval.episodes=100",
                "eval.batch=100",
            ][..],
        ),
        (
            "slush_attack",
            &[
                "train.episodes=1024",
                "train.batch=512",
                "train.eval_every=512",
                "eval.episodes=200",
            ][..],
        ),
    ] {
        let file = dir.path().join(format!("{experiment}.toml"));
        let base = std::fs::read_to_string(format!(
            "{}/experiments/{experiment}.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        std::fs::write(&file, format!("{base}\n[sweep]\nseeds = [1, 2]\n")).unwrap();
        let root = dir.path().join("results");
        let sets: Vec<String> = sets
            .iter()
            .flat_map(|s| ["--set".into(), s.to_string()])
            .collect();
        let out = selfplay()
            .args(["sweep", file.to_str().unwrap(), "--jobs", "2", "--root"])
            .arg(&root)
            .args(&sets)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{experiment}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = root.join(format!("{experiment}/seed=2"));
        let rows = lines(&run.join("metrics.csv"));
        assert!(rows >= 3, "{experiment}: {rows} lines");
        let combined = root.join(format!("{experiment}/metrics.csv"));
        assert_eq!(lines(&combined), 2 * rows - 1, "{experiment}");
        let alone = dir.path().join(format!("{experiment}-alone"));
        let status = selfplay()
            .args([file.to_str().unwrap(), "--quiet", "--seed", "2"])
            .args(&sets)
            .args(["--set", &format!("name=\"{experiment}/seed=2\"")])
            .arg("--out")
            .arg(&alone)
            .status()
            .unwrap();
        assert!(status.success());
        let read = |p: std::path::PathBuf| std::fs::read(p).unwrap();
        assert_eq!(
            read(alone.join("metrics.csv")),
            read(run.join("metrics.csv")),
            "{experiment}"
        );
    }
}

/// Hardening stopped as a kill stops it (after its k-th row, before that
/// row's save point: here mid-defence and between two attempts) and resumed
/// with `selfplay harden --resume` writes what an uninterrupted run writes:
/// metrics, checkpoints, the saved state, the protocol's table; and it
/// plots its iterations.
#[test]
fn a_killed_hardening_run_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/harden.toml");
    // Six rows: an attacker trained in the first iteration, replays added
    // by verify_every, a second attempt.
    let sets: Vec<String> = [
        "env.n=3",
        "honest.kind=learned",
        "harden.iterations=2",
        "harden.attempts=2",
        "harden.attack_episodes=1024",
        "harden.defend_episodes=1024",
        "harden.verify_every=256",
        "train.batch=128",
        "train.eval_every=256",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let flags: Vec<String> = sets
        .iter()
        .flat_map(|s| ["--set".into(), s.clone()])
        .collect();
    let whole = dir.path().join("whole");
    let status = selfplay()
        .args(["harden", file, "--quiet", "--out"])
        .arg(&whole)
        .args(&flags)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(lines(&whole.join("metrics.csv")), 7);
    let svg = std::fs::read_to_string(whole.join("curves.svg")).unwrap();
    assert!(
        svg.contains("hardening iterations") && svg.contains("optimal attack rate"),
        "{svg}"
    );
    let path = std::path::Path::new(file);
    let res = selfplay::games::consensus::config::load_harden(path, &sets).unwrap();
    for k in [1, 3] {
        let killed = dir.path().join(format!("killed_{k}"));
        let rows = std::cell::Cell::new(0);
        let say = |line: String| {
            if line.starts_with("epoch") {
                rows.set(rows.get() + 1);
                assert!(rows.get() <= k, "killed");
            }
        };
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            selfplay::games::consensus::harden::harden(&res, &killed, &say)
        }));
        assert!(run.is_err());
        assert_eq!(lines(&killed.join("metrics.csv")), k + 1);
        let status = selfplay()
            .args(["harden", file, "--quiet", "--resume", "--out"])
            .arg(&killed)
            .args(&flags)
            .status()
            .unwrap();
        assert!(status.success());
        for f in [
            "metrics.csv",
            "honest.safetensors",
            "honest_best.safetensors",
            "byzantine.safetensors",
            "state.safetensors",
            "protocol.txt",
        ] {
            let read = |d: &std::path::Path| std::fs::read(d.join(f)).unwrap();
            assert!(
                read(&killed) == read(&whole),
                "{f} differs after a resume at row {k}"
            );
        }
    }
}

/// `selfplay sweep` sweeps a hardening config (`harden.enabled`): each run
/// a hardening run of its own, its rows in the combined CSV.
#[test]
fn a_hardening_config_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/harden.toml");
    let out = selfplay()
        .args(["sweep", file, "--jobs", "1", "--root"])
        .arg(dir.path())
        .args(["--set", "harden.enabled=true", "--set", "env.n=3"])
        .args([
            "--set",
            "harden.iterations=1",
            "--set",
            "harden.distill_epochs=2",
        ])
        .args([
            "--set",
            "harden.attack_episodes=256",
            "--set",
            "harden.attempts=1",
        ])
        .args([
            "--set",
            "harden.defend_episodes=256",
            "--set",
            "train.batch=128",
        ])
        .args(["--set", "sweep.seeds=[1, 2]"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.path().join("harden/metrics.csv")).unwrap();
    assert!(
        csv.starts_with("run,seed,n,f,rounds,identity,faults,attempt,iteration"),
        "{csv}"
    );
    for seed in [1, 2] {
        assert_eq!(
            csv.matches(&format!("harden/seed={seed},{seed},3,"))
                .count(),
            2,
            "{csv}"
        );
        let run = dir.path().join(format!("harden/seed={seed}"));
        assert!(run.join("protocol.txt").exists() && run.join("curves.svg").exists());
    }
}
