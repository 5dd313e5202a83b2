//! A run folder: created, locked for the run's life, and checked for what
//! it already holds. The lock is an OS file lock on `<folder>/.lock` (which
//! names its holder): a second writer is refused, and a crashed or killed
//! run releases it with its process.

use anyhow::bail;
use fs4::FileExt;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The files a run writes in its folder; any of them marks it as used.
pub const OUTPUTS: &[&str] = &[
    "config.toml",
    "metrics.csv",
    "timing.csv",
    "state.safetensors",
    "honest.safetensors",
    "honest_best.safetensors",
    "byzantine.safetensors",
    "curves.svg",
    "evaluation.svg",
    "verify.json",
    "counterexample.txt",
    "protocol.txt",
];

/// Whether `name` is a temporary file `write_atomic` makes for one of the
/// [`OUTPUTS`]: `<output>.<pid>.tmp`.
fn is_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_suffix(".tmp") else {
        return false;
    };
    let Some((output, pid)) = rest.rsplit_once('.') else {
        return false;
    };
    !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && OUTPUTS.contains(&output)
}

/// Deletes the temporary files of [`OUTPUTS`] that a killed process left:
/// with the folder's lock held no run is writing one, and a file renamed
/// into place never leaves its temporary behind, so any found is stale.
/// (A `plot` of this folder at the same moment, which takes no lock, would
/// lose its temporary file and say so, naming it.) Nothing else is touched.
fn remove_stale_temporaries(out: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(out)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", out.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| anyhow::anyhow!("cannot list {}: {e}", out.display()))?;
        if entry.file_name().to_str().is_some_and(is_temporary) {
            let path = entry.path();
            std::fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("cannot delete {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// What to do with a folder that holds an earlier run's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Refuse it: a new run never mixes its files with another's.
    Fresh,
    /// Go on with it (the caller checks its saved state).
    Resume,
    /// Delete its files first.
    Overwrite,
}

/// A held lock file: it names its holder while held, and is emptied when
/// released, so a finished run leaves an empty `.lock` and nothing in its
/// folder but `timing.csv` says when or where it ran. The file itself stays:
/// deleting it would let a waiter lock a file nobody else can see.
pub struct Holder(File);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.set_len(0);
    }
}

/// A locked run folder; the lock lasts as long as this value (or the process).
pub struct RunFolder {
    _lock: Holder,
    pub path: PathBuf,
}

/// Who holds a lock: written into the lock file for whoever is refused.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map_or_else(|| "an unknown host".into(), |h| h.trim().to_string());
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "process {} on {host}, since unix time {since}",
        std::process::id()
    )
}

/// Takes `path` (a lock file) exclusively, waiting if `wait`; else refuses
/// with the holder it names.
pub fn lock(path: &Path, wait: bool) -> anyhow::Result<Holder> {
    let shown = path.display();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {shown}: {e}"))?;
    let taken = if wait {
        FileExt::lock(&file).map_err(fs4::TryLockError::Error)
    } else {
        FileExt::try_lock(&file)
    };
    match taken {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            let who = who.trim();
            bail!(
                "{} is in use by another run ({}): wait for it to end, or use another folder",
                path.parent().unwrap_or(path).display(),
                if who.is_empty() {
                    "holder unknown"
                } else {
                    who
                }
            );
        }
        Err(fs4::TryLockError::Error(e)) => bail!("cannot lock {shown}: {e}"),
    }
    let write = |file: &mut File| -> std::io::Result<()> {
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", holder())?;
        file.sync_all()
    };
    write(&mut file).map_err(|e| anyhow::anyhow!("cannot write {shown}: {e}"))?;
    Ok(Holder(file))
}

/// Creates (unless resuming) and locks the run folder `out`, then applies
/// `mode` to an earlier run's files.
pub fn open(out: &Path, mode: Mode) -> anyhow::Result<RunFolder> {
    let shown = out.display();
    if mode == Mode::Resume {
        if !out.is_dir() {
            bail!("--resume: {shown} is not a run folder");
        }
    } else {
        std::fs::create_dir_all(out).map_err(|e| anyhow::anyhow!("cannot create {shown}: {e}"))?;
    }
    let lock = lock(&out.join(".lock"), false)?;
    let used: Vec<&str> = OUTPUTS
        .iter()
        .copied()
        .filter(|f| out.join(f).exists())
        .collect();
    match mode {
        Mode::Fresh if !used.is_empty() => bail!(
            "{shown} holds an earlier run ({}): --resume goes on with a killed training run, \
             --overwrite deletes its files first, or choose another --out",
            used.join(", ")
        ),
        Mode::Overwrite => {
            for f in used {
                let path = out.join(f);
                std::fs::remove_file(&path)
                    .map_err(|e| anyhow::anyhow!("cannot delete {}: {e}", path.display()))?;
            }
        }
        _ => {}
    }
    if mode != Mode::Fresh {
        remove_stale_temporaries(out)?;
    }
    Ok(RunFolder {
        _lock: lock,
        path: out.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_outputs_temporaries_are_temporaries() {
        for name in [
            "honest.safetensors.123.tmp",
            "metrics.csv.9.tmp",
            "state.safetensors.4294967295.tmp",
        ] {
            assert!(is_temporary(name), "{name}");
        }
        for name in [
            "honest.safetensors",
            "honest.safetensors..tmp",
            "honest.safetensors.12a.tmp",
            "notes.txt.123.tmp",
            "my.tmp",
            ".tmp",
        ] {
            assert!(!is_temporary(name), "{name}");
        }
    }
}

/// The flags every command that writes a run folder shares (`selfplay
/// FILE`, `selfplay harden`): where, with which overrides, how loudly, and
/// whether an earlier run's files may go.
#[derive(clap::Args, Debug, Clone)]
pub struct RunFlags {
    /// Run folder; default results/<name>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overrides the experiment's seed (0 to 2^63 - 1).
    #[arg(long, value_parser = crate::config::parse_seed)]
    pub seed: Option<u64>,
    /// Overrides any config key, e.g. --set env.n=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
    /// Delete an earlier run's files in the run folder first (else a used folder is refused).
    #[arg(long)]
    pub overwrite: bool,
}

impl RunFlags {
    /// The overrides, `--seed N` being `--set seed=N`: one path for all.
    pub fn sets(&self) -> Vec<String> {
        let mut sets = self.sets.clone();
        sets.extend(self.seed.map(|seed| format!("seed={seed}")));
        sets
    }

    /// The run folder: `--out`, or `results/<name>`.
    pub fn out(&self, name: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results").join(name))
    }

    /// What to do with an earlier run's files in the run folder.
    pub fn mode(&self, resume: bool) -> Mode {
        if resume {
            Mode::Resume
        } else if self.overwrite {
            Mode::Overwrite
        } else {
            Mode::Fresh
        }
    }
}
