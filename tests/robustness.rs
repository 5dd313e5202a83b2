//! Bad input gets an error, never a panic; the config reference in
//! docs/config.md cannot drift from the code; the CLI holds up under misuse
//! (issue 13).

mod common;
use common::{ok, selfplay};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use selfplay::config::{self, Experiment};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

/// What a refused command said on stderr (exit status 2, no panic).
fn refused(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

const BYZ_BREAK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/byz_break.toml");

/// A training run of a few epochs (byz_break: a learning attacker) into `out`.
fn tiny(out: &Path, extra: &[&str]) -> Output {
    selfplay()
        .args([BYZ_BREAK, "--quiet", "--out", out.to_str().unwrap()])
        .args(["--set", "train.episodes=128", "--set", "train.batch=64"])
        .args(["--set", "train.eval_every=64", "--set", "eval.episodes=64"])
        .args(extra)
        .output()
        .unwrap()
}

const SEEDS: &[&str] = &[
    include_str!("../experiments/byz_break.toml"),
    include_str!("../experiments/signed_relay.toml"),
    include_str!("../experiments/cotrain.toml"),
];

/// Feeds the loader mutated experiment files: bytes deleted, duplicated,
/// replaced, lines of random keys and values. It may accept or refuse each,
/// but must not panic.
#[test]
fn the_config_loader_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let pieces = [
        "n",
        "f",
        "=",
        "\"",
        "[",
        "]",
        "{",
        "}",
        ".",
        "-1",
        "0",
        "1e400",
        "nan",
        "inf",
        "true",
        "\n",
        "[env]",
        "[honest]",
        "kind",
        "\"frozen\"",
        "\"learned\"",
        "rounds",
        "255",
        "99999999999999999999",
        "hidden = []",
        "hidden = [0]",
        "minibatch = 0",
        "byzantine_ids = [7, 7]",
        "ones = 9",
        "checkpoint = \"/dev/null\"",
        "[sweep]",
        "grid = { \"env.n\" = [] }",
        "é",
        "\u{0}",
        "lr = -0.0",
    ];
    for _ in 0..3000 {
        let mut text: Vec<char> = SEEDS[rng.random_range(0..SEEDS.len())].chars().collect();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..=text.len());
            match rng.random_range(0..4) {
                0 if at < text.len() => {
                    let end = (at + rng.random_range(1..20)).min(text.len());
                    text.drain(at..end);
                }
                1 => {
                    let p = pieces[rng.random_range(0..pieces.len())];
                    text.splice(at..at, p.chars());
                }
                2 if at < text.len() => text[at] = char::from(rng.random_range(32u8..127)),
                _ => {
                    let line = format!(
                        "\n{} = {}\n",
                        pieces[rng.random_range(0..pieces.len())],
                        pieces[rng.random_range(0..pieces.len())]
                    );
                    text.splice(at..at, line.chars());
                }
            }
        }
        let text: String = text.into_iter().collect();
        let outcome = std::panic::catch_unwind(|| {
            if let Ok(exp) = config::parse(&text, "fuzz.toml") {
                let _ = selfplay::games::consensus::config::resolve(exp);
            }
            let _ = config::apply_sets(&text, "fuzz.toml", &["env.n=3".into(), "a.b.c=[1".into()]);
        });
        assert!(outcome.is_ok(), "panicked on:\n{text}");
    }
}

/// Key paths of a TOML table, `a.b.c`, tables included.
fn keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let toml::Value::Table(t) = v {
            keys(t, &path, out);
        }
        out.insert(path);
    }
}

/// docs/config.md's reference block: the TOML under "## Experiment files",
/// with commented-out keys (optional ones) uncommented.
fn config_reference() -> String {
    let doc = include_str!("../docs/config.md");
    let start = doc
        .find("## Experiment files")
        .expect("a reference section");
    let block = &doc[start..];
    let open = block.find("```toml\n").expect("a toml block") + 8;
    let close = block[open..].find("```").unwrap() + open;
    block[open..close]
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with('[')
                    || rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_config_reference_documents_every_config_key() {
    let text = config_reference();
    // The reference is itself a valid experiment.
    let exp: Experiment = config::parse(&text, "docs/config.md").unwrap_or_else(|e| panic!("{e}"));
    let mut documented = BTreeSet::new();
    keys(&toml::from_str(&text).unwrap(), "", &mut documented);
    // Every key the code knows, with the optional ones filled in.
    let mut full = exp.clone();
    full.name = Some("x".into());
    full.env.rounds = Some(3);
    full.env.byzantine_ids = Some(vec![0]);
    full.env.ones = Some(1);
    full.honest.checkpoint = Some("x".into());
    full.byzantine.checkpoint = Some("x".into());
    full.rewards.byzantine = Some(Default::default());
    // Keys written out only when they differ from their default.
    full.honest.learn.baseline = agents::Baseline::BatchMean;
    full.byzantine.learn.baseline = agents::Baseline::BatchMean;
    full.honest.learn.class_bias = [0.0, 0.0, 1.0];
    full.byzantine.learn.class_bias = [0.0, 0.0, 1.0];
    full.byzantine.learn.monotone = true;
    full.rewards.terminal = envs::consensus::Terminal::FirstMatch;
    full.rewards.round_penalty_at = envs::consensus::RoundPenaltyAt::EveryStep;
    full.slush.attack_goal = envs::sampling::AttackGoal::Majority;
    full.sweep = Some(Default::default());
    let mut known = BTreeSet::new();
    keys(
        &toml::from_str(&toml::to_string(&full).unwrap()).unwrap(),
        "",
        &mut known,
    );
    // Grid entries are user keys, not config keys.
    documented.retain(|k| !k.starts_with("sweep.grid."));
    // `[byzantine.learn]` is documented "as [honest.learn]".
    assert!(text.contains("[byzantine.learn]        # as [honest.learn]"));
    let learn: Vec<String> = documented
        .iter()
        .filter_map(|k| k.strip_prefix("honest.learn."))
        .map(String::from)
        .collect();
    documented.extend(learn.iter().map(|k| format!("byzantine.learn.{k}")));
    let undocumented: Vec<_> = known.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&known).collect();
    assert!(
        undocumented.is_empty(),
        "docs/config.md misses {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/config.md documents unknown keys {stale:?}"
    );
}

/// A learned honest team (honest_consensus: n = 3, f = 0, authenticated),
/// trained for one epoch into `out`.
fn tiny_honest(out: &Path) -> Output {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/experiments/honest_consensus.toml"
    );
    selfplay()
        .args([file, "--quiet", "--out", out.to_str().unwrap()])
        .args(["--set", "train.episodes=64", "--set", "train.batch=64"])
        .args(["--set", "eval.episodes=64"])
        .output()
        .unwrap()
}

/// A stdout whose reader is gone: the write end of a pipe whose read end
/// is already closed, so the first write fails with a broken pipe (no race).
fn closed_stdout() -> std::process::Stdio {
    let mut reader = Command::new("true")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    write_end.into()
}

/// `selfplay ... | head -1`: a closed stdout ends the command quietly, with
/// status 0 and nothing on stderr (no "failed printing to stdout" panic).
#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("hc");
    ok(tiny_honest(&run));
    let ckpt = run.join("honest.safetensors");
    let ckpt = ckpt.to_str().unwrap();
    let verify = ["verify", "--protocol", "majority", "--n", "3", "--f", "1"];
    let commands: Vec<Vec<&str>> = vec![
        verify.to_vec(),
        [&verify[..], &["--json"]].concat(),
        vec!["explain", ckpt],
        vec!["plot", run.to_str().unwrap()],
        vec!["bench", "--quick"],
    ];
    for args in commands {
        let out = selfplay()
            .args(&args)
            .stdout(closed_stdout())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// A `--resume` refused for another config leaves the folder as it was:
/// config.toml still describes the run its metrics and state belong to.
#[test]
fn a_refused_resume_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(tiny(&out, &[]));
    let before = std::fs::read(out.join("config.toml")).unwrap();
    let err = refused(tiny(&out, &["--resume", "--seed", "2"]));
    assert!(err.contains("made by a different config"), "{err}");
    assert_eq!(
        std::fs::read(out.join("config.toml")).unwrap(),
        before,
        "config.toml was rewritten by a refused resume"
    );
}

/// timing.csv's rows: (stage, seconds, episodes per second).
fn timing(out: &Path) -> Vec<(String, f64, Option<f64>)> {
    let mut r = csv::Reader::from_path(out.join("timing.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[1].to_string(),
                rec[2].parse().unwrap(),
                rec[3].parse().ok(),
            )
        })
        .collect()
}

/// A resume keeps the timing of the segments before it, and the total rate
/// is every episode trained over the time spent training them: resuming a
/// finished run adds a segment that trained nothing, not an absurd rate.
#[test]
fn timing_keeps_every_segment_across_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(tiny(&out, &[]));
    let first = timing(&out);
    let stages: Vec<&str> = first.iter().map(|t| t.0.as_str()).collect();
    assert!(stages.contains(&"segment 0"), "{stages:?}");
    let rate = |rows: &[(String, f64, Option<f64>)]| rows.last().unwrap().2.unwrap();
    let total = rate(&first);
    ok(tiny(&out, &["--resume"]));
    let second = timing(&out);
    let stages: Vec<&str> = second.iter().map(|t| t.0.as_str()).collect();
    // The first segment's rows, then a segment that trained nothing, then the total.
    assert_eq!(
        stages[..first.len() - 1],
        first[..first.len() - 1]
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>()[..]
    );
    assert_eq!(
        &stages[first.len() - 1..],
        ["segment 1", "total"],
        "{stages:?}"
    );
    assert_eq!(second[first.len() - 1].2, None, "segment 1 trained nothing");
    // The same episodes over the same training time (to the last bits: the
    // seconds come back through timing.csv's decimal text).
    assert!(
        (rate(&second) - total).abs() <= 1e-9 * total,
        "{} vs {total}",
        rate(&second)
    );
    let seconds: f64 = second
        .iter()
        .filter(|t| t.0.starts_with("segment"))
        .map(|t| t.1)
        .sum();
    assert_eq!(second.last().unwrap().1, seconds);
}

/// Every I/O error names its path.
#[test]
fn io_errors_name_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(tiny(&out, &[]));
    let metrics = out.join("metrics.csv");
    let shown = metrics.display().to_string();
    let text = std::fs::read(&metrics).unwrap();
    // Resume with metrics.csv truncated in the middle of its last row
    // (half its cells gone), then missing.
    let last = text[..text.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap();
    std::fs::write(&metrics, &text[..last + (text.len() - last) / 2]).unwrap();
    let err = refused(tiny(&out, &["--resume"]));
    assert!(err.contains(&shown), "{err}");
    std::fs::remove_file(&metrics).unwrap();
    let err = refused(tiny(&out, &["--resume"]));
    assert!(
        err.contains(&shown) && err.contains("No such file"),
        "{err}"
    );
    // Plot of a binary metrics.csv.
    std::fs::write(&metrics, [0xff, 0xfe, 0, 1, 2, 0xc3, 0x28, b'\n', 0x80]).unwrap();
    let err = refused(
        selfplay()
            .args(["plot", out.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert!(err.contains(&shown), "{err}");
    // A run folder under a file.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let under = file.join("sub");
    let slush = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/slush.toml");
    for experiment in [slush, BYZ_BREAK] {
        let err = refused(
            selfplay()
                .args([experiment, "--quiet", "--out", under.to_str().unwrap()])
                .output()
                .unwrap(),
        );
        assert!(err.contains(&under.display().to_string()), "{err}");
    }
}

/// A checkpoint with NaN weights is refused wherever it is read, and one
/// trained with authenticated channels is not verified as if under a PKI.
#[test]
fn checkpoints_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("hc");
    ok(tiny_honest(&run));
    let ckpt = run.join("honest.safetensors");
    let verify = |ckpt: &Path, extra: &[&str]| {
        selfplay()
            .args(["verify", "--checkpoint", ckpt.to_str().unwrap()])
            .args(["--n", "3", "--f", "0"])
            .args(extra)
            .output()
            .unwrap()
    };
    ok(verify(&ckpt, &[]));
    // Without --n and --f, the checkpoint's own.
    ok(selfplay()
        .args(["verify", "--checkpoint", ckpt.to_str().unwrap()])
        .output()
        .unwrap());
    let err = refused(verify(&ckpt, &["--identity", "pki"]));
    assert!(
        err.contains("--identity pki:")
            && err.contains("was trained with identity = \"authenticated\""),
        "{err}"
    );
    // Every weight NaN: safetensors is an 8-byte header length, the JSON
    // header, then the tensors' bytes.
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for w in bytes[8 + header..].chunks_exact_mut(4) {
        w.copy_from_slice(&f32::NAN.to_le_bytes());
    }
    let nan = dir.path().join("nan.safetensors");
    std::fs::write(&nan, bytes).unwrap();
    let err = refused(verify(&nan, &[]));
    assert!(
        err.contains("nan.safetensors: tensor") && err.contains("non-finite"),
        "{err}"
    );
    let err = refused(
        selfplay()
            .args(["explain", nan.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert!(err.contains("non-finite"), "{err}");
    let frozen = format!("honest.checkpoint=\"{}\"", nan.display());
    let err = refused(
        selfplay()
            .args([
                BYZ_BREAK,
                "--quiet",
                "--out",
                dir.path().join("x").to_str().unwrap(),
            ])
            .args(["--set", "honest.kind=frozen", "--set", &frozen])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("honest.checkpoint") && err.contains("non-finite"),
        "{err}"
    );
}

/// Seeds beyond TOML's integers, line numbers under `--set`, and run names
/// that would write outside results/.
#[test]
fn seeds_line_numbers_and_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(
        selfplay()
            .args([BYZ_BREAK, "--seed", "9223372036854775808"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("a seed is a whole number from 0 to 9223372036854775807"),
        "{err}"
    );
    // An error in the file points at the file's own line, --set or not.
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "seed = 1\n\n# a comment\n# another\n[env]\nn = 3\n\n[train]\nepisodez = 5\n",
    )
    .unwrap();
    for sets in [&[][..], &["--set", "env.n=4"][..]] {
        let err = refused(selfplay().arg(&file).args(sets).output().unwrap());
        assert!(
            err.contains("train.episodez: unknown field") && err.contains("line 9"),
            "{sets:?}: {err}"
        );
    }
    // An error an override brings is said to come from it.
    let err = refused(
        selfplay()
            .args([BYZ_BREAK, "--set", "env.nn=3"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("env.nn: unknown field")
            && err.contains("(with --set env.nn=3)")
            && !err.contains("at line"),
        "{err}"
    );
    for name in ["\"\"", "\"/tmp/elsewhere\"", "\"../x\"", "\"a/../../x\""] {
        let out = selfplay()
            .current_dir(dir.path())
            .args([BYZ_BREAK, "--quiet", "--set", &format!("name={name}")])
            .output()
            .unwrap();
        let err = refused(out);
        assert!(
            err.contains(&format!("name = {name}: a run name is a folder")),
            "{err}"
        );
    }
    assert!(!Path::new("/tmp/elsewhere").exists());
}

/// A used run folder is refused unless `--resume` (with a state to go on
/// from) or `--overwrite` (which deletes the earlier run's files) says what
/// to do; `--resume` is refused where there is nothing it could resume.
#[test]
fn used_folders_and_resumes_are_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let err = refused(tiny(&out, &["--resume"]));
    assert!(err.contains("is not a run folder"), "{err}");
    std::fs::create_dir(&out).unwrap();
    let err = refused(tiny(&out, &["--resume"]));
    assert!(
        err.contains("holds no saved state (state.safetensors)"),
        "{err}"
    );
    ok(tiny(&out, &[]));
    let err = refused(tiny(&out, &["--seed", "2"]));
    assert!(
        err.contains("holds an earlier run (config.toml, metrics.csv")
            && err.contains("--overwrite deletes its files first"),
        "{err}"
    );
    // Another run's checkpoint is not left beside the new run's files.
    std::fs::write(out.join("honest_best.safetensors"), "stale").unwrap();
    ok(tiny(&out, &["--seed", "2", "--overwrite"]));
    assert!(!out.join("honest_best.safetensors").exists());
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("seed = 2"), "{config}");
    // Runs that keep no state refuse --resume instead of starting over.
    for (file, extra, what) in [
        (
            "slush.toml",
            ["--set", "honest.kind=scripted"],
            "evaluation runs keep no state",
        ),
        (
            "majority.toml",
            ["--set", "seed=1"],
            "evaluation runs keep no state",
        ),
    ] {
        let file = format!("{}/experiments/{file}", env!("CARGO_MANIFEST_DIR"));
        let err = refused(
            selfplay()
                .args([&file, "--resume", "--out", out.to_str().unwrap()])
                .args(extra)
                .output()
                .unwrap(),
        );
        assert!(err.contains(what), "{err}");
    }
    // A sampling-game training run resumes only its own state.
    let slush = format!("{}/experiments/slush.toml", env!("CARGO_MANIFEST_DIR"));
    let err = refused(
        selfplay()
            .args([&slush, "--resume", "--out", out.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert!(err.contains("made by a different config"), "{err}");
    let harden = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/harden.toml");
    let err = refused(
        selfplay()
            .args(["harden", harden, "--resume", "--out", out.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    // Hardening resumes only its own state.
    assert!(err.contains("made by a different config"), "{err}");
}

/// While one run holds its folder, a second writer is refused with the
/// holder's name; the lock goes with the holder.
#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    std::fs::create_dir(&out).unwrap();
    let held = selfplay::folder::lock(&out.join(".lock"), false).unwrap();
    let err = refused(tiny(&out, &[]));
    let me = format!(
        "is in use by another run (process {} on ",
        std::process::id()
    );
    assert!(err.contains(&me), "{err}");
    assert!(!out.join("config.toml").exists(), "the second writer wrote");
    drop(held);
    ok(tiny(&out, &[]));
}

/// A sweep file of byz_break over two seeds and two values of env.n, and
/// the tiny budget its runs get.
fn sweep_file(dir: &Path, sweep: &str) -> std::path::PathBuf {
    let file = dir.join("sw.toml");
    let base = std::fs::read_to_string(BYZ_BREAK).unwrap();
    std::fs::write(&file, format!("{base}\n[sweep]\n{sweep}\n")).unwrap();
    file
}

const TINY: [&str; 8] = [
    "--set",
    "train.episodes=128",
    "--set",
    "train.batch=64",
    "--set",
    "train.eval_every=64",
    "--set",
    "eval.episodes=64",
];

/// Duplicate seeds or grid values are refused; a finished run made by
/// another config is not "finished before", it is refused naming the keys.
#[test]
fn sweeps_refuse_duplicates_and_stale_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("results");
    for (table, dup) in [
        ("seeds = [1, 2, 1]", "sweep.seeds lists 1 twice"),
        (
            "grid = { \"env.n\" = [3, 4, 3] }",
            "sweep.grid.\"env.n\" lists 3 twice",
        ),
    ] {
        let file = sweep_file(dir.path(), table);
        let err = refused(
            selfplay()
                .args(["sweep", file.to_str().unwrap(), "--list"])
                .output()
                .unwrap(),
        );
        assert!(err.contains(dup), "{err}");
    }
    let file = sweep_file(dir.path(), "seeds = [1, 2]");
    let sweep = |extra: &[&str]| {
        selfplay()
            .args([
                "sweep",
                file.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
            ])
            .args(TINY)
            .args(extra)
            .output()
            .unwrap()
    };
    ok(sweep(&[]));
    let again = ok(sweep(&[]));
    assert!(again.contains("finished before, skipped"), "{again}");
    let err = refused(sweep(&["--set", "train.episodes=192"]));
    assert!(
        err.contains("finished with another config (differs in train.episodes)"),
        "{err}"
    );
}

/// Sweep jobs run at once (`--index i`, as a cluster would): each writes
/// its own folder, and the combined CSV holds every run in the end.
#[test]
fn concurrent_sweep_jobs_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("results");
    let file = sweep_file(dir.path(), "seeds = [1, 2]\ngrid = { \"env.n\" = [3, 4] }");
    let jobs: Vec<_> = (0..4)
        .map(|i| {
            selfplay()
                .args([
                    "sweep",
                    file.to_str().unwrap(),
                    "--root",
                    root.to_str().unwrap(),
                ])
                .args(TINY)
                .args(["--index", &i.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for job in jobs {
        ok(job.wait_with_output().unwrap());
    }
    let combined = std::fs::read_to_string(root.join("sw/metrics.csv")).unwrap();
    // Every job rebuilt it under the lock; the last one saw all four runs
    // (3 rows each: episodes 0, 64, 128).
    assert_eq!(combined.lines().count(), 1 + 4 * 3, "{combined}");
}

/// The verifier's guard: a NaN limit is refused (it would switch the guard
/// off), and so is a search whose per-instance tables would not fit in memory.
#[test]
fn the_verifier_guard_cannot_be_switched_off() {
    let verify = [
        "verify",
        "--protocol",
        "signed_relay",
        "--identity",
        "pki",
        "--n",
        "12",
        "--f",
        "1",
    ];
    for args in [&verify[..], &["explain", "/nonexistent.safetensors"][..]] {
        let err = refused(
            selfplay()
                .args(args)
                .args(["--max-work", "NaN"])
                .output()
                .unwrap(),
        );
        assert!(
            err.contains("a positive number of protocol evaluations"),
            "{err}"
        );
    }
    let err = refused(
        selfplay()
            .args(["verify", "--protocol", "constant", "--n", "26", "--f", "0"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains(
            "refusing: the exhaustive search keeps a table entry per instance, about 4.3 GB"
        ),
        "{err}"
    );
    // A bound far over the limit is measured on a sample of instances, and
    // a search that would run for minutes is refused in about a second.
    let err = refused(
        selfplay()
            .args(["verify", "--protocol", "majority", "--n", "20", "--f", "1"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("would take about") && err.contains("measured on 64 instances"),
        "{err}"
    );
    // The library refuses a NaN limit too.
    let spec = envs::consensus::EnvSpec::new(&envs::consensus::EnvConfig::default(), 2).unwrap();
    let p = envs::consensus::protocols::scripted("majority").unwrap();
    let e = envs::consensus::verify(&spec, &*p, &envs::consensus::Limits { max_work: f64::NAN })
        .unwrap_err();
    assert!(
        e.to_string().contains("must be a positive number, not NaN"),
        "{e}"
    );
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The CLI under random misuse: random experiments with random `--set`
/// (bad values among good ones), resumes and overwrites, then garbled
/// result files and checkpoints read back by plot, resume, explain and
/// verify. Whatever it accepts or refuses, it never panics or aborts
/// (exit 101 or 134: only 0 and 2 are allowed) and never writes outside
/// the run folders.
#[test]
fn the_cli_survives_random_misuse() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let run = cwd.join("run");
    let experiments = [
        "byz_break.toml",
        "cotrain.toml",
        "honest_consensus.toml",
        "majority.toml",
        "slush.toml",
    ];
    let keys: &[(&str, &[&str])] = &[
        ("env.n", &["0", "2", "4", "64", "\"x\""]),
        ("env.f", &["0", "2", "5"]),
        ("env.identity", &["\"pki\"", "\"anonymous\"", "\"bogus\""]),
        ("env.rounds", &["0", "1", "3"]),
        ("train.batch", &["0", "1", "100000000000"]),
        ("train.eval_every", &["0", "32"]),
        (
            "honest.learn.hidden",
            &["[]", "[0]", "[8]", "[1000000, 1000000]"],
        ),
        ("byzantine.learn.lr", &["nan", "1e9", "0.01", "-1"]),
        ("byzantine.learn.update_epochs", &["0", "1000000000", "2"]),
        ("rewards.correct_commit", &["inf", "1e7", "2"]),
        ("eval.max_work", &["nan", "0", "1", "1e5"]),
        ("eval.max_instances", &["0", "1"]),
        (
            "name",
            &["\"\"", "\"../x\"", "\"/abs\"", "\"ok\"", "\"a/b\""],
        ),
        ("seed", &["-1", "9223372036854775807", "\"s\""]),
        ("harden.replay_fraction", &["5", "nan"]),
        ("game", &["\"slush\"", "\"go\""]),
        ("honest.kind", &["\"frozen\"", "\"learned\""]),
        (
            "honest.checkpoint",
            &["\"run/honest.safetensors\"", "\"run/metrics.csv\""],
        ),
    ];
    let code = |out: &Output, what: &str| {
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 2)),
            "{what}: status {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for round in 0..60 {
        let file = format!(
            "{}/experiments/{}",
            env!("CARGO_MANIFEST_DIR"),
            experiments[rng.random_range(0..experiments.len())]
        );
        let mut args: Vec<String> = vec![file, "--quiet".into()];
        if rng.random_range(0..4) > 0 {
            args.extend(["--out".into(), "run".into()]);
        }
        for s in [
            "train.episodes=128",
            "train.batch=64",
            "train.eval_every=64",
            "eval.episodes=64",
        ] {
            args.extend(["--set".into(), s.into()]);
        }
        for _ in 0..rng.random_range(0..3) {
            let (key, values) = keys[rng.random_range(0..keys.len())];
            let value = values[rng.random_range(0..values.len())];
            args.extend(["--set".into(), format!("{key}={value}")]);
        }
        match rng.random_range(0..3) {
            0 => args.push("--resume".into()),
            1 => args.push("--overwrite".into()),
            _ => {}
        }
        let out = selfplay().current_dir(&cwd).args(&args).output().unwrap();
        code(&out, &format!("round {round}: {args:?}"));
        // Garble one of the run's files, then read the folder back.
        let mut present = vec![];
        files(&run, &mut present);
        present.retain(|p| !p.ends_with(".lock"));
        if present.is_empty() {
            continue;
        }
        let victim = &present[rng.random_range(0..present.len())];
        let mut bytes = std::fs::read(victim).unwrap();
        if rng.random_range(0..2) == 0 || bytes.is_empty() {
            bytes.truncate(rng.random_range(0..=bytes.len()));
        } else {
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
        }
        std::fs::write(victim, bytes).unwrap();
        let ckpt = cwd.join("run/honest.safetensors");
        let reads: [Vec<&str>; 4] = [
            vec!["plot", "run"],
            vec!["explain", ckpt.to_str().unwrap()],
            vec![
                "verify",
                "--checkpoint",
                victim.to_str().unwrap(),
                "--n",
                "3",
                "--f",
                "0",
            ],
            vec![&args[0], "--quiet", "--out", "run", "--resume"],
        ];
        let read = &reads[rng.random_range(0..reads.len())];
        let out = selfplay().current_dir(&cwd).args(read).output().unwrap();
        code(
            &out,
            &format!(
                "round {round}: {read:?} after garbling {}",
                victim.display()
            ),
        );
    }
    // Nothing outside the run folders (--out run, or results/<name>).
    let mut all = vec![];
    files(dir.path(), &mut all);
    for p in all {
        assert!(
            p.starts_with(&run) || p.starts_with(cwd.join("results")),
            "written outside the run folders: {}",
            p.display()
        );
    }
    assert!(!Path::new("/abs").exists());
}

/// A slush training run keeps its network like every training run; the
/// consensus commands refuse it, naming the game it belongs to.
#[test]
fn slush_runs_keep_a_checkpoint_that_consensus_commands_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("slush");
    let slush = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/slush.toml");
    ok(selfplay()
        .args([slush, "--quiet", "--out", out.to_str().unwrap()])
        .args(TINY)
        .output()
        .unwrap());
    let ckpt = out.join("honest.safetensors");
    let c = agents::checkpoint::load(&ckpt).unwrap();
    assert_eq!((c.meta.team.as_str(), c.meta.episodes), ("honest", 128));
    // explain reads it as the sampling game's rule, not as a consensus table.
    let text = ok(selfplay()
        .args(["explain", ckpt.to_str().unwrap()])
        .output()
        .unwrap());
    assert!(text.contains("a sampling-game protocol"), "{text}");
    let frozen = format!("honest.checkpoint=\"{}\"", ckpt.display());
    let err = refused(tiny(
        &dir.path().join("x"),
        &["--set", "honest.kind=frozen", "--set", &frozen],
    ));
    assert!(
        err.contains("a checkpoint of game = \"slush\": a consensus run cannot play it"),
        "{err}"
    );
}

/// Every kind of run marks its end the same way (timing.csv's last row is
/// the total), so a sweep counts an evaluation-only run as finished, and a
/// training run killed mid-way (timing so far, no total) as not.
#[test]
fn evaluation_and_training_runs_both_mark_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let eval = dir.path().join("eval");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/majority.toml");
    ok(selfplay()
        .args([file, "--quiet", "--out", eval.to_str().unwrap()])
        .args(["--set", "eval.episodes=100"])
        .output()
        .unwrap());
    assert!(selfplay::sweep::finished(&eval));
    let train = dir.path().join("train");
    ok(tiny(&train, &[]));
    assert!(selfplay::sweep::finished(&train));
    // What a killed run leaves: the rows so far, without the total.
    let timing = train.join("timing.csv");
    let text = std::fs::read_to_string(&timing).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap();
    std::fs::write(&timing, &text[..cut + 1]).unwrap();
    assert!(!selfplay::sweep::finished(&train));
}
