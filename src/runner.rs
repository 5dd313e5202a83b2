//! The one runner (issue 14): every game's run, read top to bottom. A game
//! (consensus rounds, the sampling game, reliable broadcast) implements
//! [`Game`]: it plays and pays a batch, scores a row, and names its
//! networks. The runner owns everything else, once for every game: the
//! play and update streams (1 and 2; a game draws its own weights and row
//! samples from others), the evaluation schedule, the counters, the
//! learners' statistics between rows, `metrics.csv`, the checkpoints and the best
//! honest protocol, `state.safetensors` and `--resume`, `timing.csv`, the
//! progress bar and the plot. A game may keep its own schedule of rows
//! ([`Game::schedule`]): hardening writes a row per iteration.

use crate::config::Experiment;
use crate::export::{csv_bytes, write_atomic, TimingRow};
use crate::state::{saved_state, RunState};
use crate::streams::stream;
use crate::timing::Timing;
use agents::checkpoint::{self, Meta};
use agents::mlp::NamedArray;
use agents::{Learner, Stats, StatsSum};
use anyhow::bail;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

pub use crate::state::{can_resume, STATE};

/// The two teams, as the runner names their files and learners.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    Honest,
    Byzantine,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Honest, Side::Byzantine];

    pub fn name(self) -> &'static str {
        match self {
            Side::Honest => "honest",
            Side::Byzantine => "byzantine",
        }
    }
}

/// Where a run stands: the counters a row is stamped with and a resume
/// reads back.
#[derive(Clone, Copy, Default, Debug)]
pub struct At {
    pub epoch: u64,
    pub episodes: u64,
    /// Evaluation rows written by training so far (each row samples its
    /// own stream, `1000 + evals`).
    pub evals: u64,
}

/// What one epoch did: the episodes it played and each team's update, if
/// that team learned this epoch.
pub struct Played {
    pub episodes: u64,
    pub honest: Option<Stats>,
    pub byzantine: Option<Stats>,
}

/// A team's learner statistics since the last row.
#[derive(Default)]
pub struct Recent {
    sum: StatsSum,
    last: Option<Stats>,
}

impl Recent {
    fn add(&mut self, s: Stats) {
        self.sum.add(&s);
        self.last = Some(s);
    }

    /// The mean of every update since the last row.
    pub fn mean(&self) -> Option<Stats> {
        self.sum.mean()
    }

    /// The last update before the row.
    pub fn last(&self) -> Option<Stats> {
        self.last
    }
}

/// Both teams' statistics since the last row.
#[derive(Default)]
pub struct Learned {
    pub honest: Recent,
    pub byzantine: Recent,
}

/// A network's shape as its checkpoint records it.
pub struct Network {
    pub obs_dim: usize,
    pub heads: usize,
    pub rounds: u8,
}

/// What comes next in a game that keeps its own schedule ([`Game::schedule`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Next {
    /// An epoch.
    Epoch,
    /// A row (then the save point that follows every row).
    Row,
    /// The end of the run.
    End,
}

/// One game's run, as the runner drives it.
pub trait Game {
    /// One row of `metrics.csv`.
    type Row;
    /// What a resume needs of the game beyond the runner's counters and the
    /// learners (for instance the counterexamples kept for replay), saved
    /// in `state.safetensors`.
    type Saved: Serialize + DeserializeOwned;

    fn exp(&self) -> &Experiment;
    fn name(&self) -> &str;
    /// The game in a few words, for the run's first line.
    fn describe(&self) -> String;
    /// Lines said after the first (for instance a known impossibility).
    fn notes(&self) -> Vec<String> {
        vec![]
    }
    /// Whether a team learns: a run with a training loop and a saved state.
    fn trains(&self) -> bool;
    /// The game's own schedule, if its rows do not fall every
    /// `train.eval_every` episodes (hardening: a row per iteration, an end
    /// when verified): what comes next. `None` (the default): the runner's
    /// schedule, a row every `train.eval_every` episodes up to
    /// `train.episodes`, and `train.stop_when_verified`.
    fn schedule(&self) -> Option<Next> {
        None
    }

    /// Rows of fixed teams, written before any training (and not again on
    /// a resume): all of an evaluation run's rows.
    fn baselines(
        &mut self,
        _out: &Path,
        _say: &dyn Fn(String),
        _timing: &mut Timing,
    ) -> anyhow::Result<Vec<Self::Row>> {
        Ok(vec![])
    }

    fn learner(&self, side: Side) -> Option<&Learner>;
    fn learner_mut(&mut self, side: Side) -> Option<&mut Learner>;
    /// The shape of a side's network, for its checkpoint.
    fn network(&self, side: Side) -> Network;
    /// The training episodes a side's checkpoint records (by default every
    /// episode of the run so far).
    fn trained(&self, _side: Side, at: &At) -> u64 {
        at.episodes
    }

    /// Called before the epochs between two rows (or after a resume).
    fn begin_stretch(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// One epoch: a batch played, paid and learned from.
    fn epoch(
        &mut self,
        at: &At,
        play: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played>;
    /// One evaluation row of both teams as they stand.
    fn evaluate(
        &mut self,
        at: &At,
        learned: &Learned,
        out: &Path,
        say: &dyn Fn(String),
        timing: &mut Timing,
    ) -> anyhow::Result<Self::Row>;
    /// The row in a line (the progress bar's message, and the log).
    fn summary(&self, row: &Self::Row) -> String;
    /// The verifier's optimal attack rate against the learning honest
    /// team's protocol at this row; `None` if the row has none or is not of
    /// that team (a baseline).
    fn optimum(&self, row: &Self::Row) -> Option<f64>;
    /// Whether the row's honest protocol reaches the run's goal: verified,
    /// and whatever more the game asks (reliable broadcast's `rb.goal`).
    /// Only a row whose optimum is 0 can.
    fn verified(&self, row: &Self::Row) -> bool;

    /// `metrics.csv` from the rows, and back (for a resume).
    fn write_rows(&self, rows: &[Self::Row]) -> anyhow::Result<Vec<u8>>;
    fn read_rows(&self, path: &Path) -> anyhow::Result<Vec<Self::Row>>;

    fn saved(&self) -> Self::Saved;
    fn restore(&mut self, saved: Self::Saved);
    /// Networks a resume needs beyond the learners (for instance a pool of
    /// frozen attackers), saved in `state.safetensors` beside them.
    fn tensors(&self) -> Vec<(String, NamedArray)> {
        vec![]
    }
    /// Reads back what [`Game::tensors`] saved; called after
    /// [`Game::restore`] and before the learners are restored, so a game
    /// can build the learners its saved part names.
    fn restore_tensors(&mut self, _tensors: &checkpoint::Tensors) -> anyhow::Result<()> {
        Ok(())
    }

    /// Files of the game's own, written once the last row is saved (for
    /// instance the hardened protocol's decision table).
    fn finish(&mut self, _out: &Path, _say: &dyn Fn(String)) -> anyhow::Result<()> {
        Ok(())
    }
}

/// One thread inside a training run (rayon reads this variable): runs
/// parallelise across each other instead. Set before any thread starts.
pub fn one_thread_inside_runs() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
}

/// Runs `game` into `out`; with `resume`, a training run goes on from the
/// state saved there, to the same bytes as a run never stopped.
pub fn run<G: Game>(
    game: &mut G,
    out: &Path,
    say: &dyn Fn(String),
    quiet: bool,
    resume: bool,
) -> anyhow::Result<Vec<G::Row>> {
    // A refused resume leaves the folder as it was: checked before any write.
    let saved = match resume && game.trains() {
        true => saved_state::<G::Saved>(game.exp(), out)?,
        false => None,
    };
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let exp = game.exp();
    write_atomic(&out.join("config.toml"), toml::to_string(exp)?.as_bytes())?;
    say(format!(
        "run {} | {} | seed {}",
        game.name(),
        game.describe(),
        exp.seed
    ));
    for note in game.notes() {
        say(format!("note: {note}"));
    }
    let rows = match game.trains() {
        true => Training::new(game, out, say, quiet).go(saved)?,
        false => {
            let mut timing = Timing::new();
            let rows = game.baselines(out, say, &mut timing)?;
            write_atomic(&out.join("metrics.csv"), &game.write_rows(&rows)?)?;
            finish(game.name(), out, say, &timing)?;
            rows
        }
    };
    Ok(rows)
}

/// The last files of a run: the plot, and `timing.csv` with its total, which
/// marks the run as finished (a sweep counts on it).
fn finish(name: &str, out: &Path, say: &dyn Fn(String), timing: &Timing) -> anyhow::Result<()> {
    // The results are written; a figure that cannot be drawn loses none.
    match crate::plot::plot(out) {
        Ok(svg) => say(format!("plotted {}", svg.display())),
        Err(e) => say(format!("no plot: {e:#}")),
    }
    write_atomic(&out.join("timing.csv"), &csv_bytes(&timing.finished(name))?)?;
    say(format!("wrote {}", out.join("metrics.csv").display()));
    Ok(())
}

/// A training run in progress: the game and what the runner keeps of it.
struct Training<'a, G: Game> {
    game: &'a mut G,
    out: &'a Path,
    say: &'a dyn Fn(String),
    bar: ProgressBar,
    /// Rollouts of training batches.
    play: ChaCha8Rng,
    /// Minibatch order in the learners' updates.
    update: ChaCha8Rng,
    at: At,
    learned: Learned,
    rows: Vec<G::Row>,
    timing: Timing,
    /// The kept protocol's row (`honest_best.safetensors`): its optimal
    /// attack rate, and whether it reaches the goal (`Game::verified`).
    best: Option<(f64, bool)>,
}

impl<'a, G: Game> Training<'a, G> {
    fn new(game: &'a mut G, out: &'a Path, say: &'a dyn Fn(String), quiet: bool) -> Self {
        let (seed, episodes) = (game.exp().seed, game.exp().train.episodes);
        // A game of its own schedule has no total to count towards.
        let total = game.schedule().is_none().then_some(episodes);
        Training {
            game,
            out,
            say,
            bar: progress(total, quiet),
            play: stream(seed, 1),
            update: stream(seed, 2),
            at: At::default(),
            learned: Learned::default(),
            rows: vec![],
            timing: Timing::new(),
            best: None,
        }
    }

    /// The loop: the epochs up to the next row, the row, its save point,
    /// until the run is over.
    fn go(
        mut self,
        saved: Option<(RunState<G::Saved>, checkpoint::Tensors)>,
    ) -> anyhow::Result<Vec<G::Row>> {
        // A resumed run already has its row at this point.
        let mut resumed = match saved {
            Some(saved) => {
                self.restore(saved)?;
                true
            }
            None => {
                let (out, say) = (self.out, self.say);
                let bar = self.bar.clone();
                let say_above = |line: String| bar.suspend(|| say(line));
                self.rows = self.game.baselines(out, &say_above, &mut self.timing)?;
                false
            }
        };
        loop {
            if !std::mem::take(&mut resumed) {
                self.stretch()?;
                self.evaluate()?;
                self.save()?;
            }
            if self.over() {
                break;
            }
        }
        self.bar.finish_and_clear();
        write_atomic(
            &self.out.join("metrics.csv"),
            &self.game.write_rows(&self.rows)?,
        )?;
        let (out, say) = (self.out, self.say);
        self.game.finish(out, say)?;
        finish(self.game.name(), out, say, &self.timing)?;
        Ok(self.rows)
    }

    /// Whether the run ends after its last row: the game's own schedule
    /// says so, or every episode is played, or the goal is reached.
    fn over(&self) -> bool {
        if let Some(next) = self.game.schedule() {
            return next == Next::End;
        }
        let train = &self.game.exp().train;
        if self.at.episodes >= train.episodes {
            return true;
        }
        // The goal is reached; training on would only let the protocol drift.
        let verified = self.rows.last().is_some_and(|r| self.game.verified(r));
        if train.stop_when_verified && self.game.learner(Side::Honest).is_some() && verified {
            let at = self.at.episodes;
            self.say(format!(
                "verified at {at} episodes: training stops (train.stop_when_verified)"
            ));
            return true;
        }
        false
    }

    /// The epochs between two rows, timed: up to the game's next row if it
    /// keeps its own schedule, else up to the next multiple of
    /// `train.eval_every` (none before the first row, at 0 episodes).
    fn stretch(&mut self) -> anyhow::Result<()> {
        let train = self.game.exp().train.clone();
        let from = self.at.episodes;
        let next = match self.at.evals {
            0 => 0,
            _ => ((from / train.eval_every + 1) * train.eval_every).min(train.episodes),
        };
        let own = self.game.schedule().is_some();
        if !own && from >= next {
            return Ok(());
        }
        let clock = Instant::now();
        self.game.begin_stretch()?;
        while match self.game.schedule() {
            Some(s) => s == Next::Epoch,
            None => self.at.episodes < next,
        } {
            self.epoch()?;
        }
        let (to, name) = (self.at.episodes, self.game.name().to_string());
        let secs = clock.elapsed().as_secs_f64();
        self.timing.train(&name, to, secs, to - from);
        Ok(())
    }

    /// Says `line` above the progress bar.
    fn say(&self, line: String) {
        self.bar.suspend(|| (self.say)(line));
    }

    /// Goes on from a saved state: the learners, the game's own part, the
    /// rows written up to it, the counters and the streams' positions.
    fn restore(&mut self, saved: (RunState<G::Saved>, checkpoint::Tensors)) -> anyhow::Result<()> {
        let (st, tensors) = saved;
        self.game.restore(st.game);
        self.game.restore_tensors(&tensors)?;
        for (side, steps) in [
            (Side::Honest, st.honest_steps),
            (Side::Byzantine, st.byzantine_steps),
        ] {
            if let (Some(l), Some(t)) = (self.game.learner_mut(side), steps) {
                checkpoint::restore_learner(l, side.name(), &tensors, t)
                    .map_err(anyhow::Error::msg)?;
            }
        }
        let metrics = self.out.join("metrics.csv");
        self.rows = self.game.read_rows(&metrics)?;
        if self.rows.len() < st.rows {
            bail!(
                "cannot resume {}: {} has fewer rows than the saved state",
                self.out.display(),
                metrics.display()
            );
        }
        self.rows.truncate(st.rows);
        self.timing = Timing::resume(&self.out.join("timing.csv"));
        self.best = None;
        for r in &self.rows {
            if let Some(row) = ranked(&*self.game, r).filter(|&row| replaces(row, self.best)) {
                self.best = Some(row);
            }
        }
        self.at = At {
            epoch: st.epoch,
            episodes: st.episodes,
            evals: st.evals,
        };
        self.play.set_word_pos(st.play.parse()?);
        self.update.set_word_pos(st.update.parse()?);
        self.bar.set_position(self.at.episodes);
        let (epoch, episodes) = (self.at.epoch, self.at.episodes);
        self.say(format!("resumed at epoch {epoch}, {episodes} episodes"));
        Ok(())
    }

    /// One evaluation row, said and kept.
    fn evaluate(&mut self) -> anyhow::Result<()> {
        let clock = Instant::now();
        let (out, say) = (self.out, self.say);
        let bar = self.bar.clone();
        let say_above = |line: String| bar.suspend(|| say(line));
        let row = self
            .game
            .evaluate(&self.at, &self.learned, out, &say_above, &mut self.timing)?;
        self.learned = Learned::default();
        let line = self.game.summary(&row);
        let (epoch, episodes) = (self.at.epoch, self.at.episodes);
        self.say(format!("epoch {epoch:>5} episodes {episodes:>8}  {line}"));
        self.bar.set_message(line);
        self.rows.push(row);
        self.timing.push(TimingRow {
            run: self.game.name().into(),
            stage: format!("eval {}", self.at.evals),
            seconds: clock.elapsed().as_secs_f64(),
            episodes_per_second: None,
            episodes: None,
        });
        self.at.evals += 1;
        Ok(())
    }

    /// One epoch, refused if a learner diverged.
    fn epoch(&mut self) -> anyhow::Result<()> {
        let played = self
            .game
            .epoch(&self.at, &mut self.play, &mut self.update)?;
        for (side, stats, recent) in [
            (Side::Honest, played.honest, &mut self.learned.honest),
            (
                Side::Byzantine,
                played.byzantine,
                &mut self.learned.byzantine,
            ),
        ] {
            if let Some(s) = stats {
                finite(side.name(), self.at.epoch, &s)?;
                recent.add(s);
            }
        }
        self.at.episodes += played.episodes;
        self.at.epoch += 1;
        let total = self.bar.length().unwrap_or(u64::MAX);
        self.bar.set_position(self.at.episodes.min(total));
        Ok(())
    }

    /// Writes the rows, the checkpoints and the state: together, so that a
    /// killed run keeps all of them as of this evaluation point.
    fn save(&mut self) -> anyhow::Result<()> {
        let (game, out) = (&*self.game, self.out);
        let exp = game.exp();
        let config = toml::to_string(exp)?;
        let meta = |side: Side| {
            let net = game.network(side);
            let hidden = match side {
                Side::Honest => &exp.honest.learn.hidden,
                Side::Byzantine => &exp.byzantine.learn.hidden,
            };
            Meta {
                team: side.name().into(),
                obs_dim: net.obs_dim,
                heads: net.heads,
                hidden: hidden.clone(),
                rounds: net.rounds,
                episodes: game.trained(side, &self.at),
                config: config.clone(),
            }
        };
        for side in Side::BOTH {
            if let Some(l) = game.learner(side) {
                let path = out.join(format!("{}.safetensors", side.name()));
                checkpoint::save(&path, l, &meta(side)).map_err(anyhow::Error::msg)?;
            }
        }
        // Keep the protocol with the lowest optimal attack rate so far, the
        // one reaching the goal first among equals, else the earlier row: a
        // verified one found mid-training is not lost.
        if let Some(l) = game.learner(Side::Honest) {
            let row = self.rows.last().and_then(|r| ranked(game, r));
            if let Some(row) = row.filter(|&row| replaces(row, self.best)) {
                self.best = Some(row);
                checkpoint::save(&out.join("honest_best.safetensors"), l, &meta(Side::Honest))
                    .map_err(anyhow::Error::msg)?;
                if row.1 {
                    let at = self.at.episodes;
                    self.bar.suspend(|| {
                        (self.say)(format!(
                            "verified at {at} episodes: kept in honest_best.safetensors"
                        ))
                    });
                }
            }
        }
        write_atomic(&out.join("metrics.csv"), &game.write_rows(&self.rows)?)?;
        // Written with every row, so a killed run's resume finds it.
        let timing = self.timing.so_far(game.name());
        write_atomic(&out.join("timing.csv"), &csv_bytes(&timing)?)?;
        let st = RunState {
            rows: self.rows.len(),
            episodes: self.at.episodes,
            epoch: self.at.epoch,
            evals: self.at.evals,
            play: self.play.get_word_pos().to_string(),
            update: self.update.get_word_pos().to_string(),
            honest_steps: game.learner(Side::Honest).map(|l| l.opt.t),
            byzantine_steps: game.learner(Side::Byzantine).map(|l| l.opt.t),
            game: game.saved(),
            config,
        };
        let mut tensors = vec![];
        for side in Side::BOTH {
            if let Some(l) = game.learner(side) {
                tensors.extend(checkpoint::learner_state(l, side.name()));
            }
        }
        tensors.extend(game.tensors());
        // Written last: a killed run resumes from its last complete row.
        checkpoint::write_tensors(&out.join(STATE), &tensors, &serde_json::to_string(&st)?)
            .map_err(anyhow::Error::msg)
    }
}

fn finite(team: &str, epoch: u64, s: &Stats) -> anyhow::Result<()> {
    if !(s.policy_loss.is_finite() && s.value_loss.is_finite() && s.entropy.is_finite()) {
        bail!(
            "training diverged: {team} team, epoch {epoch}: policy loss {}, value loss {}; \
             the last good checkpoint is kept",
            s.policy_loss,
            s.value_loss
        );
    }
    Ok(())
}

/// A progress bar on stderr: hidden when quiet or when stderr is not a
/// terminal; with no total (a game of its own schedule), a count.
fn progress(total: Option<u64>, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let template = match total {
        Some(_) => "{bar:30} {pos}/{len} episodes, {rate} episodes/s | {msg}",
        None => "{pos} episodes, {rate} episodes/s | {msg}",
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}", state.per_sec());
                },
            ),
    );
    bar
}

/// A row's (optimal attack rate, goal reached), if it has a rate.
fn ranked<G: Game>(game: &G, row: &G::Row) -> Option<(f64, bool)> {
    Some((game.optimum(row)?, game.verified(row)))
}

/// Whether a row ranked `row` replaces the kept protocol, ranked `kept`:
/// nothing is kept, or its rate is lower, or equal and it reaches the goal
/// where the kept one did not. On a tie the earlier row stays.
fn replaces(row: (f64, bool), kept: Option<(f64, bool)>) -> bool {
    kept.is_none_or(|(rate, goal)| row.0 < rate || (row.0 == rate && row.1 && !goal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_losses_stop_training_naming_the_team() {
        let ok = Stats::default();
        assert!(finite("honest", 3, &ok).is_ok());
        let bad = Stats {
            value_loss: f64::NAN,
            ..Stats::default()
        };
        let e = finite("byzantine", 0, &bad).unwrap_err().to_string();
        assert!(
            e.starts_with("training diverged: byzantine team, epoch 0")
                && e.contains("value loss NaN"),
            "{e}"
        );
    }

    /// The kept protocol: the lowest rate, then the first to reach the
    /// goal; an equal row later never replaces it. (Reliable broadcast
    /// under `rb.goal = "rules"`: a verified row that is no rule is kept
    /// until a verified rule comes, then never again.)
    #[test]
    fn the_kept_protocol_is_the_lowest_rate_then_the_goal() {
        let kept = Some((0.2, false));
        assert!(replaces((0.1, false), None));
        assert!(replaces((0.1, false), kept));
        assert!(!replaces((0.3, false), kept));
        let verified_no_rule = (0.0, false);
        assert!(replaces(verified_no_rule, kept));
        assert!(replaces((0.0, true), Some(verified_no_rule)));
        assert!(!replaces(verified_no_rule, Some((0.0, true))));
        // A tie keeps the earlier row's (its checkpoint is not rewritten).
        assert!(!replaces((0.0, false), Some(verified_no_rule)));
        assert!(!replaces((0.1, true), Some((0.0, false))));
    }
}
