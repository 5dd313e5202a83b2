//! `selfplay verify --game reliable_broadcast --checkpoint`: a learned
//! honest network verified as the learning rows verify it.

mod common;
use common::selfplay;
use std::path::Path;

/// The last `metrics.csv` row's `optimal_attack_rate`.
fn last_rate(metrics: &Path) -> f64 {
    let text = std::fs::read_to_string(metrics).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|&c| c == "optimal_attack_rate")
        .unwrap();
    let last: Vec<&str> = lines.last().unwrap().split(',').collect();
    last[col].parse().unwrap()
}

/// Verifies `ckpt` with `args`; the command's output, which must succeed.
fn verify(ckpt: &Path, args: &[&str]) -> String {
    let out = selfplay()
        .args(["verify", "--game", "reliable_broadcast", "--checkpoint"])
        .arg(ckpt)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_learned_checkpoint_verifies_as_its_last_row_did() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rb");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/rb_learn.toml");
    // n = 3 under crashes: seconds to learn, and at this size the rows'
    // rates are neither 0 nor 1, so agreeing with them says something.
    let status = selfplay()
        .args([file, "--quiet", "--out", out.to_str().unwrap()])
        .args(["--set", "env.n=3", "--set", "env.faults=crash"])
        .args(["--set", "train.episodes=2048", "--set", "train.batch=128"])
        .args(["--set", "train.eval_every=256"])
        .args(["--set", "eval.episodes=100", "--set", "eval.batch=100"])
        .args(["--set", "rb.max_states=200000"])
        .status()
        .unwrap();
    assert!(status.success());
    let rate = last_rate(&out.join("metrics.csv"));
    let ckpt = out.join("honest.safetensors");
    // The game is the checkpoint's: --n, --f and --faults may be left out.
    let v: serde_json::Value = serde_json::from_str(&verify(&ckpt, &["--json"])).unwrap();
    assert_eq!(v["optimal_attack_rate"].as_f64(), Some(rate), "{v}");
    assert_eq!(v["faults"], "crash", "{v}");
    assert_eq!(v["semantics"], "single", "{v}");
    assert_eq!(v["protocol"], "learned", "{v}");
    assert_eq!(v["instances"], 6, "{v}");
    // The text is `verify --protocol`'s.
    let text = verify(&ckpt, &["--n", "3", "--f", "1", "--faults", "crash"]);
    assert!(
        text.starts_with("learned | reliable_broadcast, n = 3, f = 1, crash faults"),
        "{text}"
    );
    assert!(
        text.contains(&format!("optimal attack rate: {rate} (")),
        "{text}"
    );
    // Another game than the training's is refused, naming the flag.
    for (args, flag) in [
        (vec!["--n", "4", "--f", "1"], "--n 4"),
        (vec!["--n", "3", "--f", "0"], "--f 0"),
        (
            vec!["--n", "3", "--f", "1", "--faults", "byzantine"],
            "--faults byzantine",
        ),
        (
            vec!["--n", "3", "--f", "1", "--semantics", "per_message"],
            "--semantics per_message",
        ),
    ] {
        let out = selfplay()
            .args(["verify", "--game", "reliable_broadcast", "--checkpoint"])
            .arg(&ckpt)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(flag), "{err}");
        assert!(err.contains("must match its training"), "{err}");
    }
    // Without --game the command says which game the checkpoint is for.
    let out = selfplay()
        .args(["verify", "--checkpoint"])
        .arg(&ckpt)
        .args(["--n", "3", "--f", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("verify it with `selfplay verify --game reliable_broadcast --checkpoint"),
        "{err}"
    );
}
