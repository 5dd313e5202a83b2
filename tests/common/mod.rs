//! What the integration tests share. Each test crate uses part of it.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

/// The `selfplay` binary this test build made.
pub fn selfplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_selfplay"))
}

/// A command's stdout; it must have succeeded (else its stderr).
pub fn ok(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `selfplay verify --game reliable_broadcast --checkpoint CKPT ARGS`,
/// which must succeed: what it prints.
pub fn verify_rb_checkpoint(ckpt: &Path, args: &[&str]) -> String {
    ok(selfplay()
        .args(["verify", "--game", "reliable_broadcast", "--checkpoint"])
        .arg(ckpt)
        .args(args)
        .output()
        .unwrap())
}

/// SHA-256 over every file a run writes but `timing.csv` (wall clock), the
/// plots and the folder's lock file, by name in sorted order: name, length,
/// bytes. Also each file's own hash, for the failure message.
pub fn digest(dir: &Path) -> (String, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "timing.csv" && n != ".lock" && !n.ends_with(".svg"))
        .collect();
    names.sort();
    let mut all = Sha256::new();
    let mut each = vec![];
    for n in &names {
        let bytes = std::fs::read(dir.join(n)).unwrap();
        all.update(n.as_bytes());
        all.update((bytes.len() as u64).to_le_bytes());
        all.update(&bytes);
        each.push(format!("{:x}  {n}", Sha256::digest(&bytes)));
    }
    (format!("{:x}", all.finalize()), each)
}

/// What a run computed, file by file, without the words that describe it:
/// `metrics.csv` and every other table whole; a checkpoint's tensors (names,
/// shapes, values) without its metadata, whose config text changes when a
/// config key is added; `config.toml` left out for the same reason. Each
/// line `hash  name`, names sorted: a changed line says which file moved.
pub fn results_digest(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "timing.csv" && n != ".lock" && n != "config.toml" && !n.ends_with(".svg"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(n)).unwrap();
            let kept = match n.ends_with(".safetensors") {
                true => tensors_only(&bytes),
                false => bytes,
            };
            format!("{:x}  {n}", Sha256::digest(&kept))
        })
        .collect()
}

/// A safetensors file's header less `__metadata__`, then its data.
fn tensors_only(bytes: &[u8]) -> Vec<u8> {
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header.remove("__metadata__");
    // serde_json's map is sorted by key: the same header gives the same text.
    let mut out = serde_json::to_vec(&header).unwrap();
    out.extend_from_slice(&bytes[8 + len..]);
    out
}
