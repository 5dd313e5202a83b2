//! The command line as a user meets it.

use std::process::Command;

fn selfplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_selfplay"))
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
    let out = selfplay()
        .args([
            "verify",
            "--protocol",
            "signed_relay",
            "--n",
            "10",
            "--f",
            "1",
            "--identity",
            "pki",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
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
        "[env]\nn = 4\nf = 2\nidentity = \"pki\"\nsynchrony = \"asynchronous\"\n",
    )
    .unwrap();
    let out = selfplay().arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml: env.synchrony = \"asynchronous\": not supported yet"),
        "{err}"
    );
    std::fs::write(&file, "[env]\nn = 4\nfaults = 2\n").unwrap();
    let err = String::from_utf8(selfplay().arg(&file).output().unwrap().stderr).unwrap();
    assert!(
        err.contains("bad.toml: env.faults: unknown field `faults`"),
        "{err}"
    );
    let missing = dir.path().join("missing.toml");
    let err = String::from_utf8(selfplay().arg(&missing).output().unwrap().stderr).unwrap();
    assert!(err.contains("missing.toml: cannot read"), "{err}");
}

#[test]
fn default_run_writes_results_with_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let status = selfplay()
        .current_dir(dir.path())
        .args(["--out", out.to_str().unwrap(), "--seed", "7", "--quiet"])
        .status()
        .unwrap();
    assert!(status.success());
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.lines().count() == 5, "{csv}");
    assert!(
        csv.lines().nth(1).unwrap().starts_with("majority,7,3,1,2,"),
        "{csv}"
    );
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        config.contains("seed = 7") && config.contains("rounds = 2"),
        "{config}"
    );
}

#[test]
fn bench_prints_its_figures() {
    // Figures only: speed targets are read off `selfplay bench`, never asserted here.
    let out = selfplay().args(["bench", "--quick"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("episodes/s") && text.contains("signed_relay, n=5 f=1 pki (rate 0)"),
        "{text}"
    );
}
