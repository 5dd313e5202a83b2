//! `state.safetensors`: what a training run needs to go on after it was
//! killed, saved after every evaluation row, last, so that it never runs
//! ahead of `metrics.csv`. The runner's counters and streams are the same
//! for every game; the game adds its own part (`Game::Saved`).

use crate::config::Experiment;
use agents::checkpoint;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a run needs to go on after it was killed, beside its learners'
/// tensors: saved after every row, last, so it never runs ahead of the CSV.
#[derive(Serialize, Deserialize)]
pub struct RunState<S> {
    pub rows: usize,
    pub episodes: u64,
    pub epoch: u64,
    pub evals: u64,
    /// Positions in the play and update streams (u128 as text).
    pub play: String,
    pub update: String,
    pub honest_steps: Option<u64>,
    pub byzantine_steps: Option<u64>,
    /// The game's own part (for instance the counterexamples kept for replay).
    #[serde(flatten)]
    pub game: S,
    /// The experiment as run: a resume must be of the same one.
    pub config: String,
    // No wall-clock figure: the state's bytes depend on the config and seed
    // only. A resume reads the earlier segments back from `timing.csv`.
}

pub const STATE: &str = "state.safetensors";

/// The state saved in `out`, if there is one; an error if it cannot be read
/// or was made by another experiment (checked before anything is written).
pub fn saved_state<S: serde::de::DeserializeOwned>(
    exp: &Experiment,
    out: &Path,
) -> anyhow::Result<Option<(RunState<S>, checkpoint::Tensors)>> {
    let path = out.join(STATE);
    if !path.exists() {
        return Ok(None);
    }
    let (json, tensors) = checkpoint::read_tensors(&path).map_err(anyhow::Error::msg)?;
    // The config first: a state of another game or experiment is refused as
    // such, not as a malformed file.
    #[derive(Deserialize)]
    struct Made {
        config: String,
    }
    let made: Made = serde_json::from_str(&json)
        .with_context(|| format!("{}: not a saved run state", path.display()))?;
    let now = toml::to_string(exp)?;
    if made.config != now {
        // Through values both: the keys that differ, as a finished sweep
        // run's refusal names them.
        let mut keys = vec![];
        if let (Ok(a), Ok(b)) = (
            toml::from_str::<toml::Value>(&made.config),
            toml::from_str::<toml::Value>(&now),
        ) {
            crate::config::differences(&a, &b, "", &mut keys);
        }
        let which = match keys.is_empty() {
            true => String::new(),
            false => format!(": {} differ", keys.join(", ")),
        };
        bail!(
            "cannot resume {}: it was made by a different config (another file, seed or \
             --set){which}",
            out.display()
        );
    }
    let st: RunState<S> = serde_json::from_str(&json)
        .with_context(|| format!("{}: not a saved run state", path.display()))?;
    Ok(Some((st, tensors)))
}

/// Whether `out` holds a saved state of this experiment to resume from;
/// an error if it holds one of another experiment.
pub fn can_resume(exp: &Experiment, out: &Path) -> anyhow::Result<bool> {
    Ok(saved_state::<serde_json::Value>(exp, out)?.is_some())
}
