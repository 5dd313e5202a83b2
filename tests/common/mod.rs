//! What the integration tests share. Each test crate uses part of it.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

/// The `selfplay` binary this test build made.
pub fn selfplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_selfplay"))
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
