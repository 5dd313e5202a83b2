//! Issue 26's misuse, each case as its reporter met it: commands that
//! panicked, hung or said more than was measured. Each test fails on the
//! code before its fix.

mod common;
use common::{ok, selfplay};
use std::path::Path;
use std::process::Output;

const E: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments");

/// The command's stderr; it must have been refused (status 2, no panic).
fn refused(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "not refused: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// `selfplay E/<file> --quiet --out <out>` with `sets`.
fn run(file: &str, out: &Path, sets: &[&str]) -> Output {
    let mut c = selfplay();
    c.arg(format!("{E}/{file}"))
        .args(["--quiet", "--out", out.to_str().unwrap()]);
    for s in sets {
        c.args(["--set", s]);
    }
    c.output().unwrap()
}

/// A reliable-broadcast run small enough for seconds: n = 3 under crashes.
const RB_TINY: &[&str] = &[
    "env.n=3",
    "env.faults=crash",
    "train.episodes=256",
    "train.batch=128",
    "train.eval_every=128",
    "eval.episodes=64",
    "eval.batch=64",
    "rb.max_states=200000",
];

/// A sampling-game co-training run small enough for a second.
const SLUSH_TINY: &[&str] = &[
    "train.episodes=256",
    "train.batch=128",
    "train.eval_every=128",
    "eval.episodes=64",
    "eval.batch=64",
];

fn plot(dir: &Path) -> Output {
    selfplay()
        .args(["plot", dir.to_str().unwrap()])
        .output()
        .unwrap()
}

/// Issue 26, 1: plot draws every game's run folder, a `harden` one (no
/// `episodes` column) and one killed at its first row included.
#[test]
fn plot_draws_every_games_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    ok(selfplay()
        .args(["harden", &format!("{E}/harden.toml"), "--quiet", "--out"])
        .arg(d("hd"))
        .args(["--set", "env.n=3", "--set", "harden.iterations=1"])
        .args(["--set", "harden.attack_episodes=256"])
        .args(["--set", "harden.defend_episodes=256"])
        .args([
            "--set",
            "harden.distill_epochs=2",
            "--set",
            "train.batch=128",
        ])
        .output()
        .unwrap());
    ok(run("rb_learn.toml", &d("rb"), RB_TINY));
    ok(run("slush_cotrain.toml", &d("sc"), SLUSH_TINY));
    ok(run(
        "byz_break.toml",
        &d("bb"),
        &[
            "train.episodes=128",
            "train.batch=64",
            "train.eval_every=64",
            "eval.episodes=64",
        ],
    ));
    for (run, x_axis, line) in [
        (
            "hd",
            "hardening iterations",
            "optimal attack rate (verifier)",
        ),
        ("rb", "training episodes", "optimal attack rate (verifier)"),
        ("sc", "training episodes", "honest win (sampled)"),
        ("bb", "training episodes", "honest win (sampled)"),
    ] {
        ok(plot(&d(run)));
        let svg = std::fs::read_to_string(d(run).join("curves.svg")).unwrap();
        assert!(svg.contains(x_axis), "{run}: no {x_axis}");
        assert!(svg.contains(line), "{run}: no {line}");
        assert!(svg.matches("<circle").count() >= 2, "{run}: no points");
    }
    // A reliable-broadcast run killed after its first row: all at episode
    // 0, with no win rates to draw as an evaluation's bars.
    let text = std::fs::read_to_string(d("rb").join("metrics.csv")).unwrap();
    let first: Vec<&str> = text.lines().take(2).collect();
    std::fs::create_dir(d("rb0")).unwrap();
    std::fs::write(d("rb0").join("metrics.csv"), first.join("\n") + "\n").unwrap();
    ok(plot(&d("rb0")));
    // An infinite cell is left out, not an axis without end.
    let inf = text.replacen(",1.0,", ",inf,", 1);
    assert_ne!(inf, text, "no cell of 1.0 to make infinite");
    std::fs::create_dir(d("inf")).unwrap();
    std::fs::write(d("inf").join("metrics.csv"), inf).unwrap();
    ok(plot(&d("inf")));
    // A CSV of other columns is refused, naming the file.
    std::fs::create_dir(d("other")).unwrap();
    let other = d("other").join("metrics.csv");
    std::fs::write(&other, "a,b\n1,2\n").unwrap();
    let err = refused(plot(&d("other")));
    assert!(err.contains(&other.display().to_string()), "{err}");
}

/// Issue 26, 12: plot writes through a temporary file: an error names the
/// path and leaves nothing behind, and an existing curves.svg is replaced,
/// not overwritten in place (a file linked to it keeps its bytes).
#[test]
fn plot_replaces_its_figure_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sc");
    ok(run("slush_cotrain.toml", &out, SLUSH_TINY));
    let svg = out.join("curves.svg");
    let kept = dir.path().join("kept.svg");
    std::fs::write(&kept, "an earlier figure").unwrap();
    // The run drew its curves: a hard link takes their place.
    std::fs::remove_file(&svg).unwrap();
    std::fs::hard_link(&kept, &svg).unwrap();
    ok(plot(&out));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "an earlier figure");
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    // curves.svg a folder: the write fails, naming the path, and leaves no
    // temporary file.
    std::fs::remove_file(&svg).unwrap();
    std::fs::create_dir(&svg).unwrap();
    let err = refused(plot(&out));
    assert!(err.contains(&svg.display().to_string()), "{err}");
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue 26, 13: temporary files a killed process left in a run folder
/// (`<output>.<pid>.tmp`) are removed by `--resume` and `--overwrite`;
/// files of other names are not touched.
#[test]
fn resume_and_overwrite_remove_stale_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sc");
    ok(run("slush_cotrain.toml", &out, SLUSH_TINY));
    let stale = [
        "honest.safetensors.4000001.tmp",
        "state.safetensors.4000002.tmp",
        "metrics.csv.4000003.tmp",
    ];
    let foreign = out.join("notes.txt.4000004.tmp");
    for mode in ["--resume", "--overwrite"] {
        for s in stale {
            std::fs::write(out.join(s), "partial").unwrap();
        }
        std::fs::write(&foreign, "mine").unwrap();
        // Whether the finished run is resumed or refused, its folder was
        // opened (and locked) first.
        let mut c = selfplay();
        c.arg(format!("{E}/slush_cotrain.toml")).args([
            "--quiet",
            mode,
            "--out",
            out.to_str().unwrap(),
        ]);
        for s in SLUSH_TINY {
            c.args(["--set", s]);
        }
        let o = c.output().unwrap();
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{mode}"
        );
        for s in stale {
            assert!(!out.join(s).exists(), "{mode} left {s}");
        }
        assert!(foreign.exists(), "{mode} removed a file not its own");
    }
}
/// Runs `cmd`, killing it (and failing) if it takes more than `secs`: a
/// hang is a failure, not a test that never ends.
fn within(cmd: &mut std::process::Command, secs: u64) -> Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= secs {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} still running after {secs} s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `selfplay E/<file> --set <set>` (with a tiny budget otherwise), which
/// must be refused within 60 s; its stderr.
fn refused_set(file: &str, base: &[&str], set: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut c = selfplay();
    c.arg(format!("{E}/{file}"))
        .args(["--quiet", "--out", dir.path().join("r").to_str().unwrap()]);
    for s in base.iter().chain([&set]) {
        c.args(["--set", s]);
    }
    let err = refused(within(&mut c, 60));
    let key = set.split('=').next().unwrap();
    assert!(err.contains(&format!("{key} = ")), "{set}: {err}");
    err
}

/// Issue 26, 2: a layer of 0 units (or a minibatch of 0) is refused by its
/// key in every game, as the consensus game refused it, not a divide by
/// zero in the networks.
#[test]
fn empty_layers_are_refused_in_every_game() {
    for (file, base, team) in [
        ("rb_learn.toml", RB_TINY, "honest"),
        ("rb_learn.toml", RB_TINY, "byzantine"),
        ("slush_attack.toml", SLUSH_TINY, "byzantine"),
        ("slush_cotrain.toml", SLUSH_TINY, "byzantine"),
        ("slush_cotrain.toml", SLUSH_TINY, "honest"),
        ("byz_break.toml", &[][..], "byzantine"),
    ] {
        for (set, why) in [
            (
                format!("{team}.learn.hidden=[0]"),
                "layers need at least 1 unit",
            ),
            (
                format!("{team}.learn.hidden=[16, 0]"),
                "layers need at least 1 unit",
            ),
            (
                format!("{team}.learn.minibatch=0"),
                "needs at least 1 sample",
            ),
        ] {
            let err = refused_set(file, base, &set);
            assert!(err.contains(why), "{file} {set}: {err}");
        }
    }
}

/// Issue 26, 4: a batch of 0 episodes (and no evaluations between
/// training) is refused by its own key in every game: the sampling game
/// spun forever on it.
#[test]
fn empty_batches_are_refused_in_every_game() {
    for (file, base) in [
        ("slush_attack.toml", SLUSH_TINY),
        ("slush_cotrain.toml", SLUSH_TINY),
        ("rb_learn.toml", RB_TINY),
        ("byz_break.toml", &[][..]),
    ] {
        for set in [
            "train.batch=0",
            "eval.batch=0",
            "eval.episodes=0",
            "train.eval_every=0",
        ] {
            let err = refused_set(file, base, set);
            assert!(err.contains("at least 1"), "{file} {set}: {err}");
        }
    }
}

/// A copy of checkpoint `from` at `to` whose metadata `edit` changed (the
/// tensors kept).
fn edit_checkpoint(from: &Path, to: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let (json, tensors) = agents::checkpoint::read_tensors(from).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&json).unwrap();
    edit(&mut meta);
    let named: Vec<(String, agents::mlp::NamedArray)> = tensors.into_iter().collect();
    agents::checkpoint::write_tensors(to, &named, &meta.to_string()).unwrap();
}

/// Issue 26, 3: a reliable-broadcast checkpoint whose metadata says n = 3
/// while its networks are for n = 4 is called damaged, naming the file, by
/// `verify --checkpoint` and `explain`: they indexed past the network.
#[test]
fn a_checkpoint_whose_shapes_are_not_its_configs_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rb4");
    let mut sets: Vec<&str> = RB_TINY.to_vec();
    sets[0] = "env.n=4";
    ok(run("rb_learn.toml", &out, &sets));
    let ckpt = out.join("honest.safetensors");
    // Its config says n = 3; the shapes it states are still n = 4's.
    let config_only = dir.path().join("config_only.safetensors");
    edit_checkpoint(&ckpt, &config_only, |m| {
        let c = m["config"].as_str().unwrap().replace("n = 4", "n = 3");
        m["config"] = c.into();
    });
    // Its stated input size changed too: the tensors still disagree.
    let shapes_too = dir.path().join("shapes_too.safetensors");
    edit_checkpoint(&config_only, &shapes_too, |m| {
        m["obs_dim"] = (m["obs_dim"].as_u64().unwrap() - 1).into();
    });
    for damaged in [&config_only, &shapes_too] {
        let shown = damaged.display().to_string();
        for args in [
            vec![
                "verify",
                "--game",
                "reliable_broadcast",
                "--checkpoint",
                &shown,
            ],
            vec!["explain", &shown],
        ] {
            let err = refused(within(selfplay().args(&args), 60));
            assert!(
                err.contains(&shown) && err.contains("damaged checkpoint"),
                "{args:?}: {err}"
            );
        }
    }
}

/// Issue 26, 11: a refutation (each instance searched to its first
/// violation, the whole search being past `--max-states`) does not call
/// itself a search of every delivery order.
#[test]
fn a_refutation_does_not_claim_the_whole_search() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rb");
    // A network biased to send (the classes: send, send, none) is broken
    // within a few states, while its whole search takes more.
    let mut sets = RB_TINY.to_vec();
    sets.push("honest.learn.class_bias=[3, 3, 0]");
    ok(run("rb_learn.toml", &out, &sets));
    let ckpt = out.join("honest.safetensors");
    let mut refutations = 0;
    for max in ["5", "10", "20", "50", "100", "200", "500", "1000"] {
        let o = within(
            selfplay()
                .args(["verify", "--game", "reliable_broadcast", "--checkpoint"])
                .arg(&ckpt)
                .args(["--max-states", max]),
            60,
        );
        if !o.status.success() {
            continue; // no violation within the limit either: refused
        }
        let text = String::from_utf8(o.stdout).unwrap();
        if text.contains("the whole search passed --max-states") {
            refutations += 1;
            let verdict = text.lines().find(|l| l.starts_with("verified:")).unwrap();
            assert!(
                !verdict.contains("every delivery order") && verdict.contains("first violation"),
                "{verdict}"
            );
        }
    }
    assert!(refutations > 0, "no limit gave a refutation");
}

/// Issue 26, 5: `--jobs` has an upper bound too, and threads past the work
/// are not started (the answer is the same).
#[test]
fn jobs_are_bounded() {
    let synth = |jobs: &str| {
        within(
            selfplay().args([
                "synthesize",
                "--n",
                "3",
                "--f",
                "1",
                "--json",
                "--jobs",
                jobs,
            ]),
            60,
        )
    };
    for jobs in ["10000000", "1025", "0"] {
        let err = refused(synth(jobs));
        assert!(err.contains(&format!("--jobs {jobs}")), "{err}");
    }
    assert_eq!(ok(synth("1000")), ok(synth("1")));
    let root = tempfile::tempdir().unwrap();
    let err = refused(within(
        selfplay()
            .args(["sweep", &format!("{E}/byz_break_sweep.toml")])
            .args(["--jobs", "10000000", "--root"])
            .arg(root.path()),
        60,
    ));
    assert!(err.contains("--jobs 10000000"), "{err}");
}

/// Issue 26, 7: a search whose `--max-states` may need more memory than a
/// search may use is refused at once, saying what it may need; the
/// default fits.
#[test]
fn searches_too_big_for_memory_are_refused_up_front() {
    let verify = |extra: &[&str]| {
        let mut c = selfplay();
        c.args([
            "verify",
            "--game",
            "reliable_broadcast",
            "--protocol",
            "echo",
        ])
        .args(["--n", "6", "--f", "1"])
        .args(extra);
        within(&mut c, 20)
    };
    for max in ["18446744073709551615", "100000000"] {
        let err = refused(verify(&["--max-states", max]));
        assert!(
            err.contains(&format!("--max-states {max}")) && err.contains("GB"),
            "{err}"
        );
        assert!(err.contains("at most"), "{err}");
    }
    // The same in a learning run's config, by its key.
    let err = refused_set("rb_learn.toml", RB_TINY, "rb.max_states=100000000000");
    assert!(err.contains("GB"), "{err}");
}

/// 14: `sweep --list` refuses what `sweep` refuses, before printing a
/// command: on a cluster each array job would otherwise fail on its own.
#[test]
fn sweep_list_refuses_what_sweep_refuses() {
    let dir = tempfile::tempdir().unwrap();
    for (grid, expected) in [
        ("\"env.n\" = [3, 9]", "env.n"),
        ("\"rb.nosuch\" = [1]", "nosuch"),
        (
            "\"env.delta\" = [1]",
            "env.delta = 1: game = \"reliable_broadcast\" does not read",
        ),
    ] {
        let text = std::fs::read_to_string(format!("{E}/rb_learn.toml")).unwrap();
        let file = dir.path().join("grid.toml");
        std::fs::write(
            &file,
            format!("{text}\n[sweep]\nseeds = [1]\n[sweep.grid]\n{grid}\n"),
        )
        .unwrap();
        for list in [true, false] {
            let mut c = selfplay();
            c.arg("sweep")
                .arg(&file)
                .arg("--root")
                .arg(dir.path().join("r"));
            if list {
                c.arg("--list");
            }
            let out = c.output().unwrap();
            assert!(out.stdout.is_empty(), "{grid}: listed or ran");
            let err = refused(out);
            assert!(err.contains(expected), "{grid} (list {list}): {err}");
        }
    }
}

/// 15: a refused `--resume` names the keys that differ.
#[test]
fn a_refused_resume_names_the_keys_that_differ() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let tiny = [
        "train.episodes=128",
        "train.batch=64",
        "train.eval_every=64",
        "eval.episodes=64",
    ];
    ok(run("slush.toml", &out, &tiny));
    let mut changed = tiny.to_vec();
    changed.push("rewards.round_penalty=0.5");
    let mut c = selfplay();
    c.arg(format!("{E}/slush.toml"))
        .args(["--quiet", "--resume", "--out", out.to_str().unwrap()]);
    for s in &changed {
        c.args(["--set", s]);
    }
    let err = refused(c.output().unwrap());
    assert!(
        err.contains("made by a different config")
            && err.contains(": rewards.round_penalty differ"),
        "{err}"
    );
}

/// 16: an integer TOML cannot hold is called out of range, not "a string".
#[test]
fn an_out_of_range_integer_is_called_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(run(
        "rb_learn.toml",
        &dir.path().join("x"),
        &["rb.max_states=18446744073709551615"],
    ));
    assert!(
        err.contains("--set rb.max_states=18446744073709551615: out of range"),
        "{err}"
    );
}

/// 17: help says what each argument is, and offers no flag it refuses.
#[test]
fn help_describes_every_argument_and_offers_no_refused_flag() {
    let help = |args: &[&str]| ok(selfplay().args(args).arg("--help").output().unwrap());
    let harden = help(&["harden"]);
    assert!(
        harden.contains("--resume") && !harden.contains("byz_break"),
        "{harden}"
    );
    let synth = help(&["synthesize"]);
    assert!(
        synth.contains("--n <N>  ") && synth.contains("Agents"),
        "{synth}"
    );
    assert!(help(&["sweep"]).contains("[sweep] table"));
    assert!(help(&["explain"]).contains("its game is read from it"));
    let verify = help(&["verify"]);
    assert!(!verify.contains("either game"), "{verify}");
}
