//! `selfplay verify --game reliable_broadcast --checkpoint`: a learned
//! honest network verified as the learning rows verify it.

mod common;
use common::{ok, selfplay, verify_rb_checkpoint as verify};
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
    // Another game than the training's is refused, naming the flag: a
    // raw-count network plays at its own n and f only.
    for (args, flag, why) in [
        (
            vec!["--n", "4", "--f", "1"],
            "--n 4",
            "rb.view = \"counts\"",
        ),
        (
            vec!["--n", "3", "--f", "0"],
            "--f 0",
            "rb.view = \"counts\"",
        ),
        (
            vec!["--n", "3", "--f", "1", "--faults", "byzantine"],
            "--faults byzantine",
            "must match its training",
        ),
        (
            vec!["--n", "3", "--f", "1", "--semantics", "per_message"],
            "--semantics per_message",
            "must match its training",
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
        assert!(err.contains(why), "{err}");
    }
    // So is explain at another size.
    let out = selfplay()
        .arg("explain")
        .arg(&ckpt)
        .args(["--n", "4", "--f", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("plays only there"), "{err}");
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

/// A checkpoint of the threshold view (`rb.view = "thresholds"`) plays at
/// any n: trained at n = 3, f = 1 (crash), verify and explain take it at
/// n = 4 without retraining, as a game of that size.
#[test]
fn a_threshold_view_checkpoint_is_verified_at_another_n() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rb");
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/experiments/rb_learn_any_n.toml"
    );
    let status = selfplay()
        .args([file, "--quiet", "--out", out.to_str().unwrap()])
        .args(["--set", "env.n=3", "--set", "env.faults=crash"])
        .args(["--set", "train.episodes=512", "--set", "train.batch=128"])
        .args(["--set", "train.eval_every=256"])
        .args(["--set", "eval.episodes=100", "--set", "eval.batch=100"])
        .args(["--set", "rb.max_states=200000"])
        .status()
        .unwrap();
    assert!(status.success());
    let ckpt = out.join("honest.safetensors");
    let v: serde_json::Value =
        serde_json::from_str(&verify(&ckpt, &["--n", "4", "--f", "1", "--json"])).unwrap();
    assert_eq!(
        (v["n"].as_u64(), v["f"].as_u64()),
        (Some(4), Some(1)),
        "{v}"
    );
    assert_eq!(v["faults"], "crash", "{v}");
    // Every placement of the crash-prone agent at n = 4, times two inputs.
    assert_eq!(v["instances"], 8, "{v}");
    assert!(v["optimal_attack_rate"].as_f64().is_some(), "{v}");
    // --first-violation stops each instance's search at its first
    // violation: the same verdict, and it says so.
    let first: serde_json::Value = serde_json::from_str(&verify(
        &ckpt,
        &["--n", "4", "--f", "1", "--first-violation", "--json"],
    ))
    .unwrap();
    assert_eq!(first["first_violations_only"], true, "{first}");
    assert_eq!(first["verified"], v["verified"], "{first}");
    assert_eq!(first["broken_instances"], v["broken_instances"], "{first}");
    // At its own size it is the same network, as its rows verified it.
    let own: serde_json::Value = serde_json::from_str(&verify(&ckpt, &["--json"])).unwrap();
    assert_eq!(own["n"], 3, "{own}");
    let text = ok(selfplay()
        .arg("explain")
        .arg(&ckpt)
        .args(["--n", "4", "--f", "1"])
        .output()
        .unwrap());
    assert!(
        text.contains("reliable broadcast n = 4, f = 1 crash")
            && text.contains("rules, for either value v")
            && text.contains("ceil((n+f+1)/2) = 3"),
        "{text}"
    );
}
