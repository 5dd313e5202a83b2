//! `selfplay FILE` on a reliable-broadcast experiment, from the command
//! line: a killed run resumed writes what an uninterrupted one writes.

use std::path::Path;
use std::process::Command;

fn selfplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_selfplay"))
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

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
    let (killed, whole) = (dir.path().join("killed"), dir.path().join("whole"));
    let mut child = selfplay()
        .args([file, "--quiet", "--out", killed.to_str().unwrap()])
        .args(sets)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while lines(&killed.join("metrics.csv")) < 4 {
        assert!(start.elapsed().as_secs() < 300, "no rows appeared");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = lines(&killed.join("metrics.csv"));
    assert!(
        partial > 1 && partial < 10,
        "{partial} lines: the run finished before it was killed"
    );
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
        let read = |d: &Path| std::fs::read(d.join(f)).unwrap();
        assert!(
            read(&killed) == read(&whole),
            "{f} differs after the resume"
        );
    }
    // Another config is refused, naming the folder.
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
