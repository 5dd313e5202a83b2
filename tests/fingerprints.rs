//! Every experiment file, run at reduced size from the command line,
//! computes the results recorded in `tests/golden/experiments.sha256`: one
//! line per file of each run (`common::results_digest`: metrics.csv and the
//! other tables whole, checkpoints' tensors without their metadata, no
//! config.toml), so a failure names the experiment and the file that moved,
//! and a new config key changes no line. It guards refactors and faster
//! kernels: a change meant to keep behaviour must keep every experiment's
//! numbers. The hashes hold on any x86-64 CPU and thread count
//! (docs/reproducibility.md); `tests/golden.rs` pins every byte of one run.
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
    } else if file.starts_with("snowball") {
        // Snowball at a smaller network (and a learned adversary, briefly trained).
        args.extend([
            "--set",
            "env.n=300",
            "--set",
            "env.f=30",
            "--set",
            "snowball.rounds=200",
            "--set",
            "eval.episodes=50",
        ]);
        if file.contains("learned") {
            // A learned adversary: a few updates, training episodes capped.
            args.extend([
                "--set",
                "train.episodes=32",
                "--set",
                "train.eval_every=16",
                "--set",
                "snowball.train_rounds=100",
            ]);
        }
        let mut out: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        out.push(format!("experiments/{file}"));
        return out;
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
        for line in common::results_digest(&dir) {
            lines.push(format!("{line}  ({file})"));
        }
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
        "files whose results changed (or that are new or gone), with their experiment:\n{}\n\
         If the change is meant, rerun with SELFPLAY_BLESS=1 (see this file's header).",
        changed.join("\n")
    );
}
