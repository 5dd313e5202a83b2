//! `selfplay sweep FILE`: the runs of an experiment over seeds and a grid of
//! keys, on all local cores (one thread inside each run), or one at a time
//! (`--index`) for a cluster scheduler, with `--list` printing the commands.
//! A finished run is skipped on a re-run; the combined CSV concatenates the
//! finished runs in plan order.

use crate::config;
use crate::export::write_atomic;
use crate::folder::Mode;
use crate::games::{self, Job};
use anyhow::{bail, Context};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One run of a sweep.
pub struct Planned {
    /// `key=value,...,seed=S`: names the run and its folder.
    pub label: String,
    /// Overrides making the run: the sweep's grid values, name and seed.
    pub sets: Vec<String>,
    pub out: PathBuf,
}

/// The runs of the sweep in `file` (with `sets` applied first), in order:
/// the grid in key order, each value in file order, then each seed.
pub fn plan(file: &Path, sets: &[String], root: &Path) -> anyhow::Result<(String, Vec<Planned>)> {
    let job = games::load_job(file, sets)?;
    let name = job.name().to_string();
    let Some(sweep) = job.exp().sweep.clone() else {
        bail!("{}: no [sweep] table", file.display());
    };
    let seeds = if sweep.seeds.is_empty() {
        vec![job.exp().seed]
    } else {
        sweep.seeds.clone()
    };
    // A value twice would be one run twice, both writing one folder.
    if let Some(s) = seeds
        .iter()
        .enumerate()
        .find(|(k, s)| seeds[..*k].contains(s))
    {
        bail!("{}: sweep.seeds lists {} twice", file.display(), s.1);
    }
    for (key, values) in &sweep.grid {
        if let Some((_, v)) = values
            .iter()
            .enumerate()
            .find(|(k, v)| values[..*k].contains(v))
        {
            bail!("{}: sweep.grid.\"{key}\" lists {v} twice", file.display());
        }
    }
    let mut points: Vec<Vec<(String, String)>> = vec![vec![]];
    for (key, values) in &sweep.grid {
        if values.is_empty() {
            bail!("{}: sweep.grid.\"{key}\" lists no values", file.display());
        }
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((key.clone(), v.to_string()));
                    q
                })
            })
            .collect();
    }
    let mut runs = vec![];
    for point in &points {
        for seed in &seeds {
            let mut parts: Vec<String> = point
                .iter()
                .map(|(k, v)| format!("{k}={}", v.trim_matches('"')))
                .collect();
            parts.push(format!("seed={seed}"));
            let label = parts.join(",");
            let mut run_sets = sets.to_vec();
            run_sets.extend(point.iter().map(|(k, v)| format!("{k}={v}")));
            run_sets.push(format!("seed={seed}"));
            run_sets.push(format!("name=\"{name}/{label}\""));
            runs.push(Planned {
                out: root.join(&name).join(label.replace('/', "_")),
                label,
                sets: run_sets,
            });
        }
    }
    Ok((name, runs))
}

/// Whether a run folder holds a finished run: `timing.csv` ends with its
/// `total` row, which every kind of run writes last (a training run also
/// writes the rows so far after each evaluation, without the total).
pub fn finished(out: &Path) -> bool {
    let Ok(mut r) = csv::Reader::from_path(out.join("timing.csv")) else {
        return false;
    };
    let rows: Vec<crate::export::TimingRow> = r.deserialize().filter_map(Result::ok).collect();
    rows.last().is_some_and(|t| t.stage == "total")
}

/// A finished run counts as this sweep's run only if it was made by the
/// same resolved config: else an error naming the keys that differ.
fn same_config(job: &dyn Job, out: &Path) -> anyhow::Result<()> {
    let path = out.join("config.toml");
    let saved = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let saved: toml::Value = toml::from_str(&saved)
        .map_err(|e| anyhow::anyhow!("{}: not a run config: {e}", path.display()))?;
    // Through text both, as config.toml was written: f32 values compare equal.
    let now: toml::Value = toml::from_str(&toml::to_string(job.exp())?)?;
    let mut keys = vec![];
    config::differences(&saved, &now, "", &mut keys);
    if !keys.is_empty() {
        bail!(
            "{} finished with another config (differs in {}): delete the folder to rerun it, \
             or use another --root",
            out.display(),
            keys.join(", ")
        );
    }
    Ok(())
}

/// Resolves one planned run, its `[sweep]` table dropped before its game
/// checks it (a run of a sweep is not a sweep).
fn resolve(file: &Path, run: &Planned) -> anyhow::Result<Box<dyn Job>> {
    let context = || format!("sweep run {}", run.label);
    let registry = games::Registry::built_in();
    let (mut exp, entry) =
        games::load_experiment(&registry, file, &run.sets).with_context(context)?;
    exp.sweep = None;
    let shown = file.display().to_string();
    let job = entry
        .job(exp)
        .map_err(|e| config::LoadError::new(&shown, e));
    job.with_context(context)
}

/// The shell command that runs `run` on its own.
pub fn command(file: &Path, run: &Planned) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let sets: Vec<String> = run
        .sets
        .iter()
        .map(|s| format!("--set {}", quote(s)))
        .collect();
    format!(
        "selfplay {} {} --out {} --quiet",
        quote(&file.display().to_string()),
        sets.join(" "),
        quote(&run.out.display().to_string())
    )
}

/// The most threads `--jobs` may ask for. Each costs a stack and a start;
/// ten million of them took far longer to start than the work they shared.
pub const MAX_JOBS: usize = 1024;

/// The threads for `--jobs` (`sweep`, `synthesize`): every core when not
/// given, never more than the `work` items to share, and 0 or more than
/// [`MAX_JOBS`] refused, naming the flag.
pub fn threads(jobs: Option<usize>, work: usize) -> Result<usize, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = match jobs {
        None => cores,
        Some(0) => return Err("--jobs 0: at least one thread".into()),
        Some(j) if j > MAX_JOBS => {
            return Err(format!(
                "--jobs {j}: at most {MAX_JOBS} threads (this machine has {cores} cores; \
                 threads past the cores only wait their turn)"
            ))
        }
        Some(j) => j,
    };
    Ok(jobs.min(work.max(1)))
}

pub struct Options {
    pub list: bool,
    pub index: Option<usize>,
    pub jobs: Option<usize>,
}

/// Runs (or lists) the sweep; writes `root/<name>/metrics.csv` combining every finished run.
pub fn sweep(file: &Path, sets: &[String], root: &Path, opt: &Options) -> anyhow::Result<()> {
    // A closed stdout must not stop a sweep: the files are the results.
    let say = crate::out::sayer(false);
    let (name, runs) = plan(file, sets, root)?;
    // Every run is checked before any starts, or is listed: a typo fails
    // now, not in an hour, nor in each job of a cluster's array.
    let resolved: Vec<Box<dyn Job>> = runs
        .iter()
        .map(|r| resolve(file, r))
        .collect::<anyhow::Result<_>>()?;
    if opt.list {
        for run in &runs {
            say(command(file, run));
        }
        return Ok(());
    }
    let chosen: Vec<usize> = match opt.index {
        Some(i) if i >= runs.len() => bail!(
            "--index {i}: the sweep has {} runs (0..{})",
            runs.len(),
            runs.len()
        ),
        Some(i) => vec![i],
        None => (0..runs.len()).collect(),
    };
    let jobs = threads(opt.jobs, chosen.len()).map_err(anyhow::Error::msg)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let outcomes: Vec<anyhow::Result<()>> = pool.install(|| {
        chosen
            .par_iter()
            .map(|&i| {
                let run = &runs[i];
                if finished(&run.out) {
                    same_config(&*resolved[i], &run.out)?;
                    say(format!("[{i}] {}: finished before, skipped", run.label));
                    return Ok(());
                }
                // A run killed earlier goes on from its saved state; one
                // killed before it saved any starts over.
                let resume = resolved[i].trains() && run.out.join(crate::state::STATE).exists();
                let mode = if resume {
                    Mode::Resume
                } else {
                    Mode::Overwrite
                };
                let _folder = crate::folder::open(&run.out, mode)?;
                resolved[i].run(&run.out, true, resume)?;
                say(format!("[{i}] {}: done", run.label));
                Ok(())
            })
            .collect()
    });
    for (i, o) in chosen.iter().zip(outcomes) {
        o.with_context(|| format!("sweep run [{i}] {}", runs[*i].label))?;
    }
    // The combined CSV: every finished run's rows, header once, in plan
    // order; rebuilt under a lock, as other jobs of the sweep may finish now.
    let dir = root.join(&name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let _lock = crate::folder::lock(&dir.join(".lock"), true)?;
    // Only runs of this config: a stale one (made by another) is left out.
    let done: Vec<&Planned> = runs
        .iter()
        .zip(&resolved)
        .filter(|(r, res)| finished(&r.out) && same_config(res.as_ref(), &r.out).is_ok())
        .map(|(r, _)| r)
        .collect();
    let mut combined: Vec<u8> = vec![];
    let mut header = None;
    for run in &done {
        let path = run.out.join("metrics.csv");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let mut lines = text.lines();
        let h = lines.next().unwrap_or_default().to_string();
        if header.get_or_insert_with(|| h.clone()) != &h {
            bail!("{}: columns differ from the other runs", run.out.display());
        }
        for l in lines {
            combined.extend_from_slice(l.as_bytes());
            combined.push(b'\n');
        }
    }
    if let Some(h) = header {
        let mut bytes = h.into_bytes();
        bytes.push(b'\n');
        bytes.extend(combined);
        let path = root.join(&name).join("metrics.csv");
        write_atomic(&path, &bytes)?;
        say(format!(
            "wrote {} ({} of {} runs finished)",
            path.display(),
            done.len(),
            runs.len()
        ));
    }
    Ok(())
}
