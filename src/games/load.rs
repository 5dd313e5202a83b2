//! Reading an experiment for its game: the game `game = "..."` names in
//! the registry, no key that game does not read, then the game's own
//! checks. The config module parses; this one knows there are games.

use super::{refuse_foreign_keys, Entry, Job, Registry};
use crate::config::{apply_sets, one_line, parse_with, quoted, Experiment, LoadError};
use crate::config::{DEFAULT, DEFAULT_NAME};
use envs::consensus::ConfigError;
use std::path::Path;

/// Reads an experiment file (with overrides) as its game reads it: the
/// game named, and no key that game does not read. Nothing is checked
/// beyond the keys (the game's `job` checks the values).
pub fn load_experiment(
    registry: &Registry,
    path: &Path,
    sets: &[String],
) -> Result<(Experiment, &'static dyn Entry), LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(&file, format!("cannot read: {e}")))?;
    let mut exp = parse_with(&text, &file, sets)?;
    if exp.name.is_none() {
        exp.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    let entry = game_of(registry, &text, &file, sets, &exp)?;
    Ok((exp, entry))
}

/// The game `exp` names, with the keys of `text` (and `sets`) checked
/// against what it reads.
fn game_of(
    registry: &Registry,
    text: &str,
    file: &str,
    sets: &[String],
    exp: &Experiment,
) -> Result<&'static dyn Entry, LoadError> {
    let entry = registry
        .find(&exp.game)
        .map_err(|e| LoadError::new(file, format!("game: {e}")))?;
    let written: toml::Table = toml::from_str(&apply_sets(text, file, sets)?)
        .map_err(|e| LoadError::new(file, one_line(&e.to_string())))?;
    refuse_foreign_keys(entry, &written).map_err(|e| match sets.is_empty() {
        true => LoadError::new(file, e),
        false => LoadError::new(file, format!("{e} (with --set {})", sets.join(" --set "))),
    })?;
    Ok(entry)
}

/// Reads any experiment file (with overrides) and checks it for its game.
pub fn load_job(path: &Path, sets: &[String]) -> Result<Box<dyn Job>, LoadError> {
    load_job_in(&Registry::built_in(), path, sets)
}

/// [`load_job`] among the games of `registry`.
pub fn load_job_in(
    registry: &Registry,
    path: &Path,
    sets: &[String],
) -> Result<Box<dyn Job>, LoadError> {
    let file = path.display().to_string();
    let (exp, entry) = load_experiment(registry, path, sets)?;
    entry.job(exp).map_err(|e| LoadError::new(&file, e))
}

/// Checks a parsed experiment for its game (its keys are checked where its
/// text is read: [`load_experiment`]).
pub fn job(exp: Experiment) -> Result<Box<dyn Job>, ConfigError> {
    let entry =
        super::built_in(&exp.game).map_err(|e| ConfigError::new("game", quoted(&exp.game), e))?;
    entry.job(exp)
}

/// The built-in default experiment, with overrides, checked for its game.
pub fn default_job(sets: &[String]) -> Result<Box<dyn Job>, LoadError> {
    let origin = "built-in default";
    let mut exp = parse_with(DEFAULT, origin, sets)?;
    exp.name.get_or_insert_with(|| DEFAULT_NAME.into());
    let entry = game_of(&Registry::built_in(), DEFAULT, origin, sets, &exp)?;
    entry.job(exp).map_err(|e| LoadError::new(origin, e))
}
