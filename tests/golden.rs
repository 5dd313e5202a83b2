//! The golden run: a short co-training run with replayed counterexamples,
//! whose every output byte is pinned. Its numbers depend only on the config,
//! the seed and the code: the same on any x86-64 CPU (SSE only, AVX2,
//! AVX-512), with any thread count, in debug or release. CI also runs it
//! under emulated CPUs (`.ci/cpu-golden`). If a change to the code changes
//! the bytes on purpose, rerun this test, check that a release build writes
//! the same files, and pin the new hash here and in docs/reproducibility.md.

mod common;
use common::digest;
use std::process::Command;

/// The config the hash belongs to.
pub const CONFIG: &str = "tests/golden/cotrain_replays.toml";

/// SHA-256 over every file the run writes but `timing.csv` (wall clock), the
/// plot and the folder's lock file ([`common::digest`]).
const GOLDEN: &str = "97a66f1eddc8cc9feccc476f59fec1d9ba08c2e1b05bee02aee1449ca8f65e7d";

#[test]
fn the_golden_run_writes_the_pinned_bytes() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    for threads in ["1", "2"] {
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new(env!("CARGO_BIN_EXE_selfplay"))
            .args([CONFIG, "--quiet", "--out"])
            .arg(&dir)
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
        // A finished run clears its lock file's holder (pid, host, time).
        assert_eq!(std::fs::read(dir.join(".lock")).unwrap(), b"");
        let (hash, each) = digest(&dir);
        assert_eq!(
            hash,
            GOLDEN,
            "{threads} thread(s): the golden run's bytes changed; per file:\n{}",
            each.join("\n")
        );
    }
}
