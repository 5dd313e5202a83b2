//! `timing.csv`: the wall clock of a run, kept apart from everything the
//! seed determines. One row per evaluation and training stretch, one per
//! segment (the run, and each resume), and a total written last.

use crate::export::TimingRow;
use std::path::Path;
use std::time::Instant;

/// Wall-clock rows of `timing.csv` for one segment (one process: the run,
/// or a resume), kept apart from everything the seed determines.
pub struct Timing {
    /// The rows of earlier segments (from `timing.csv`) and of this one so far.
    rows: Vec<TimingRow>,
    started: Instant,
    /// Seconds spent training in this segment, and the episodes trained in them.
    secs: f64,
    trained: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing::new()
    }
}

impl Timing {
    pub fn new() -> Timing {
        Timing {
            rows: vec![],
            started: Instant::now(),
            secs: 0.0,
            trained: 0,
        }
    }

    /// Picks up the segments a killed or finished run left in `path`: its
    /// rows without the total. An unreadable file loses only wall-clock
    /// figures, so it is skipped, not refused.
    pub fn resume(path: &Path) -> Timing {
        let mut t = Timing::new();
        if let Ok(mut r) = csv::Reader::from_path(path) {
            t.rows = r.deserialize().filter_map(Result::ok).collect();
            t.rows.retain(|row: &TimingRow| row.stage != "total");
        }
        t
    }

    pub fn push(&mut self, row: TimingRow) {
        self.rows.push(row);
    }

    pub fn train(&mut self, name: &str, to: u64, secs: f64, done: u64) {
        (self.secs, self.trained) = (self.secs + secs, self.trained + done);
        self.push(TimingRow {
            run: name.into(),
            stage: format!("train to {to}"),
            seconds: secs,
            episodes_per_second: Some(done as f64 / secs.max(1e-9)),
            episodes: Some(done),
        });
    }

    /// The rows with this segment's row so far (no total: the run goes on).
    pub fn so_far(&self, name: &str) -> Vec<TimingRow> {
        let segments = self
            .rows
            .iter()
            .filter(|t| t.stage.starts_with("segment "))
            .count();
        let mut rows = self.rows.clone();
        rows.push(TimingRow {
            run: name.into(),
            stage: format!("segment {segments}"),
            seconds: self.started.elapsed().as_secs_f64(),
            episodes_per_second: (self.secs > 0.0).then(|| self.trained as f64 / self.secs),
            episodes: Some(self.trained),
        });
        rows
    }

    /// The rows with this segment's row and the total: every segment's
    /// seconds, and every episode trained over the seconds spent training
    /// them (empty if nothing was trained). Written last: a `timing.csv`
    /// that ends with its total marks a finished run.
    pub fn finished(&self, name: &str) -> Vec<TimingRow> {
        let mut rows = self.so_far(name);
        let training = rows.iter().filter(|t| t.stage.starts_with("train to "));
        let (secs, trained) = training.fold((0.0, 0), |(s, n), t| {
            (s + t.seconds, n + t.episodes.unwrap_or(0))
        });
        let total = rows
            .iter()
            .filter(|t| t.stage.starts_with("segment "))
            .map(|t| t.seconds)
            .sum();
        rows.push(TimingRow {
            run: name.into(),
            stage: "total".into(),
            seconds: total,
            episodes_per_second: (secs > 0.0 && trained > 0).then(|| trained as f64 / secs),
            episodes: Some(trained),
        });
        rows
    }
}
