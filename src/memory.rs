//! Memory estimated before a run starts, for every game: each game lists
//! what its batches and networks would take, per config key responsible,
//! and a run over the limit is refused naming the key that weighs most.

use agents::LearnConfig;
use envs::consensus::ConfigError;

/// The most a run may take: 8 GB, or the memory available if less.
pub const LIMIT: f64 = 8e9;

/// What one config key makes the run hold, in bytes.
pub struct Part {
    pub key: String,
    /// The key's value as the user wrote it, for the message.
    pub value: String,
    pub bytes: f64,
    /// The other keys these bytes grow with (`key = value`, joined): a
    /// product of keys is named with each, so the refusal names the one the
    /// user raised whichever it is.
    pub with: Vec<String>,
}

impl Part {
    pub fn new(key: &str, value: impl std::fmt::Debug, bytes: f64) -> Part {
        Part {
            key: key.into(),
            value: format!("{value:?}"),
            bytes,
            with: vec![],
        }
    }

    /// These bytes grow with `key` too.
    pub fn with(mut self, key: &str, value: impl std::fmt::Debug) -> Part {
        self.with.push(format!("{key} = {value:?}"));
        self
    }
}

/// A network's policy and critic: weights, gradients and two Adam moments
/// in f32, and the activations of a minibatch forward and back (a
/// minibatch holds at most the `decisions` a batch records).
pub fn network_bytes(l: &LearnConfig, obs: usize, outputs: usize, decisions: f64) -> f64 {
    let mut sizes = vec![obs];
    sizes.extend(&l.hidden);
    let weights: f64 = sizes
        .windows(2)
        .map(|w| (w[0] as f64 + 1.0) * w[1] as f64)
        .sum::<f64>()
        + l.hidden.last().map_or(obs, |&h| h) as f64 * outputs as f64;
    let width: f64 = l.hidden.iter().map(|&h| h as f64).sum();
    2.0 * weights * 4.0 * 4.0 + (l.minibatch as f64).min(decisions) * width * 4.0 * 4.0
}

/// `decisions` recorded for learning (observation, mask, action, value...)
/// and the activations of acting on them in one batched pass.
pub fn recorded_bytes(l: &LearnConfig, obs: usize, decisions: f64) -> f64 {
    let width: f64 = l.hidden.iter().map(|&h| h as f64).sum();
    decisions * (obs as f64 + 16.0) * 4.0 + decisions * width * 4.0 * 2.0
}

/// A learning team as an estimate sees it.
pub struct Team<'a> {
    /// `honest` or `byzantine`: its keys are `<side>.learn.*`.
    pub side: &'a str,
    pub learn: &'a LearnConfig,
    pub obs: usize,
    pub outputs: usize,
    /// Decisions a training batch records for it.
    pub decisions: f64,
}

/// A run's parts when every episode of its batches holds `episode` bytes
/// and the learning `teams` record their decisions: `eval.batch`, each
/// team's network, then `train.batch` (when some team learns), named with
/// the networks' widths, which what a batch records grows with too.
pub fn run_parts(eval_batch: usize, train_batch: usize, episode: f64, teams: &[Team]) -> Vec<Part> {
    let mut parts = vec![Part::new(
        "eval.batch",
        eval_batch,
        eval_batch as f64 * episode,
    )];
    if teams.is_empty() {
        return parts;
    }
    let mut batch = train_batch as f64 * episode;
    let mut recorded = Part::new("train.batch", train_batch, 0.0);
    for t in teams {
        batch += recorded_bytes(t.learn, t.obs, t.decisions);
        let key = format!("{}.learn.hidden", t.side);
        let net = network_bytes(t.learn, t.obs, t.outputs, t.decisions);
        parts.push(Part::new(&key, &t.learn.hidden, net));
        recorded = recorded.with(&key, &t.learn.hidden);
    }
    recorded.bytes = batch;
    parts.push(recorded);
    parts
}

/// Bytes of memory available (Linux `MemAvailable`), if known.
pub fn available() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// Refuses a run whose estimate passes [`LIMIT`] or the memory available,
/// naming the key that weighs most and what the run would need.
pub fn check(parts: &[Part]) -> Result<(), ConfigError> {
    let total: f64 = parts.iter().map(|p| p.bytes).sum();
    let limit = available().map_or(LIMIT, |a| a.min(LIMIT));
    let Some(heaviest) = parts.iter().max_by(|a, b| a.bytes.total_cmp(&b.bytes)) else {
        return Ok(());
    };
    // NaN (a key beyond f64) is over any limit.
    if total <= limit {
        return Ok(());
    }
    let with = match heaviest.with.as_slice() {
        [] => String::new(),
        keys => format!("with {}, ", keys.join(" and ")),
    };
    Err(ConfigError::new(
        &heaviest.key,
        &heaviest.value,
        format!(
            "{with}the run needs about {:.1} GB of memory (estimate), {:.1} GB may be used \
             (8 GB, or the memory available if less)",
            total / 1e9,
            limit / 1e9
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heaviest_key_is_named_with_the_estimate() {
        let parts = [
            Part::new("eval.batch", 10, 1e3),
            Part::new("train.batch", 100000000, 2e10),
        ];
        let e = check(&parts).unwrap_err().to_string();
        assert!(
            e.starts_with("train.batch = 100000000: the run needs about 20.0 GB"),
            "{e}"
        );
        assert!(check(&parts[..1]).is_ok());
        let nan = [Part::new("honest.learn.hidden", [1], f64::NAN)];
        assert!(check(&nan).is_err(), "NaN bytes pass no limit");
        // A product of keys names each: the user raised one of them.
        let wide = [Part::new("train.batch", 512, 7e11).with("byzantine.learn.hidden", [100000])];
        let e = check(&wide).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "train.batch = 512: with byzantine.learn.hidden = [100000], the run needs about 700.0 GB"
            ),
            "{e}"
        );
    }
}
