//! Every experiment file, run at reduced size from the release-built
//! command line, writes the bytes recorded in `tests/golden/experiments.sha256`.
//! It guards refactors and faster kernels: a change meant to keep behaviour
//! must keep every experiment's metrics.csv, checkpoints and tables. The
//! hashes hold on any x86-64 CPU and thread count (docs/reproducibility.md).
//!
//! When a change alters results on purpose, rerun with
//! `SELFPLAY_BLESS=1 cargo test --test fingerprints`, read the diff of the
//! hash file, and commit it with the change that explains it.

mod common;
use std::path::PathBuf;
use std::process::Command;

const RECORD: &str = "tests/golden/experiments.sha256";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The reduced run of one experiment file: its command line.
fn reduced(file: &str) -> Vec<String> {
    let mut args: Vec<&str> = vec![];
    if file == "harden.toml" {
        args.extend([
            "harden",
            "--set",
            "env.n=3",
            "--set",
            "honest.kind=learned",
            "--set",
            "harden.iterations=1",
            "--set",
            "harden.attempts=1",
            "--set",
            "harden.defend_episodes=2048",
            "--set",
            "harden.attack_episodes=2048",
        ]);
    } else {
        args.extend([
            "--set",
            "train.episodes=2048",
            "--set",
            "train.eval_every=1024",
        ]);
        if !file.starts_with("slush") {
            args.extend(["--set", "train.stop_when_verified=false"]);
        }
    }
    args.extend(["--set", "eval.episodes=1000"]);
    let mut out: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    out.push(format!("experiments/{file}"));
    out
}

#[test]
fn every_experiment_writes_its_recorded_bytes() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = vec![];
    for file in &files {
        let dir = tmp.path().join(file);
        let out = Command::new(env!("CARGO_BIN_EXE_selfplay"))
            .args(reduced(file))
            .args(["--quiet", "--out"])
            .arg(&dir)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines.push(format!("{}  {file}", common::digest(&dir).0));
    }
    let now = lines.join("\n") + "\n";
    if std::env::var_os("SELFPLAY_BLESS").is_some() {
        std::fs::write(root().join(RECORD), &now).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(root().join(RECORD)).unwrap();
    let changed: Vec<&str> = now
        .lines()
        .filter(|l| !recorded.lines().any(|r| r == *l))
        .collect();
    assert!(
        changed.is_empty() && recorded == now,
        "experiments whose bytes changed (or that are new or gone):\n{}\n\
         If the change is meant, rerun with SELFPLAY_BLESS=1 (see this file's header).",
        changed.join("\n")
    );
}
