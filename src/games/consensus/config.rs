//! The consensus game's experiments: its teams resolved (a scripted
//! protocol, a frozen or learning network; scripted, learned or frozen
//! adversaries), its checkpoints checked, its memory estimated.

use crate::config::{
    check_training, check_values, load_checkpoint, other_game, quoted, Experiment, Kind, LoadError,
};
use crate::games::consensus::teams::GreedyHonest;
use crate::games::{load_experiment, Registry};
use crate::memory::{run_parts, Part, Team};
use agents::checkpoint::Loaded;
use envs::consensus::view::{byz_obs_size, obs_size};
use envs::consensus::{adversaries, protocols, ConfigError, EnvSpec, Protocol};
use std::path::Path;
use std::sync::Arc;

crate::experiment_file! {
    /// An experiment of the consensus game: every table of the record but
    /// the other games' (`[slush]`, `[rb]`).
    pub struct File {
        env: envs::consensus::EnvConfig,
        honest: crate::config::HonestConfig,
        byzantine: crate::config::ByzantineConfig,
        train: crate::config::TrainConfig,
        eval: crate::config::EvalConfig,
        rewards: envs::consensus::Rewards,
        harden: crate::config::HardenConfig,
    }
}

/// Reads and validates an experiment file.
pub fn load(path: &Path) -> Result<Resolved, LoadError> {
    load_with(path, &[])
}

/// Reads a consensus experiment file with `key.path=value` overrides applied
/// before validation, so an override is checked exactly like the file.
/// For the commands that play the consensus game only (`harden`).
pub fn load_with(path: &Path, sets: &[String]) -> Result<Resolved, LoadError> {
    load_as(path, sets, false)
}

/// [`load_with`] with `harden.enabled` set before the checks: the
/// experiment as `selfplay harden` runs it.
pub fn load_harden(path: &Path, sets: &[String]) -> Result<Resolved, LoadError> {
    load_as(path, sets, true)
}

fn load_as(path: &Path, sets: &[String], harden: bool) -> Result<Resolved, LoadError> {
    let file = path.display().to_string();
    let (mut exp, _) = load_experiment(&Registry::built_in(), path, sets)?;
    exp.harden.enabled |= harden;
    if exp.game != "consensus" {
        return Err(LoadError::new(
            &file,
            format!(
                "game = \"{}\": this command runs consensus experiments only; \
                 run it as `selfplay FILE`",
                exp.game
            ),
        ));
    }
    resolve(exp).map_err(|e| LoadError::new(&file, e))
}

/// The honest team as resolved.
pub enum HonestTeam {
    /// A deterministic protocol: scripted, or a frozen network played greedily.
    Protocol(Arc<dyn Protocol>),
    /// A network that learns, perhaps from a checkpoint.
    Learned(Option<Arc<Loaded>>),
}

/// The Byzantine team as resolved.
pub enum ByzantineTeam {
    /// Scripted adversaries, one evaluation row each.
    Scripted(Vec<String>),
    /// A network that learns, perhaps from a checkpoint.
    Learned(Option<Arc<Loaded>>),
    /// A saved network played greedily.
    Frozen(Arc<Loaded>),
}

/// An experiment with everything resolved: the game, the teams, the defaults.
pub struct Resolved {
    /// The experiment as run: name, seed and rounds filled in.
    pub exp: Experiment,
    pub spec: Arc<EnvSpec>,
    pub honest: HonestTeam,
    pub byzantine: ByzantineTeam,
}

impl Resolved {
    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("experiment")
    }

    /// Whether any team learns (a training run, hardening included) or not
    /// (an evaluation).
    pub fn trains(&self) -> bool {
        self.exp.harden.enabled
            || matches!(self.honest, HonestTeam::Learned(_))
            || matches!(self.byzantine, ByzantineTeam::Learned(_))
    }
}

/// Loads a checkpoint for `team`, checking it fits the game.
fn checkpoint_for(
    key: &str,
    path: &Path,
    team: &str,
    obs_dim: usize,
) -> Result<Arc<Loaded>, ConfigError> {
    let shown = quoted(&path.display().to_string());
    let c = load_checkpoint(path).map_err(|e| ConfigError::new(key, &shown, e))?;
    if let Some(game) = other_game(&c, "consensus") {
        return Err(ConfigError::new(key, &shown, game));
    }
    if c.meta.team != team {
        return Err(ConfigError::new(
            key,
            &shown,
            format!("is a {} checkpoint, not {team}", c.meta.team),
        ));
    }
    if c.meta.obs_dim != obs_dim {
        return Err(ConfigError::new(
            key,
            &shown,
            format!(
                "takes observations of size {}, this game has {}: n, rounds and identity must match its training",
                c.meta.obs_dim, obs_dim
            ),
        ));
    }
    Ok(Arc::new(c))
}

/// A rough upper estimate of a run's memory, in bytes, per key responsible:
/// the batches of episodes and what the learners record of them, and the
/// networks with their gradients and Adam moments.
pub fn memory_estimate(res: &Resolved) -> Vec<Part> {
    let spec = &res.spec;
    let exp = &res.exp;
    let (n, rounds) = (spec.n() as f64, spec.rounds() as f64);
    // An episode's inbox and state, and its own copy in play.
    let episode = (spec.stride() + 64) as f64;
    let decisions = exp.train.batch as f64 * n * rounds;
    let outputs = 3 + spec.byz_action_len() * 3;
    let mut teams = vec![];
    if matches!(res.honest, HonestTeam::Learned(_)) {
        let (learn, obs) = (&exp.honest.learn, obs_size(spec));
        teams.push(Team {
            side: "honest",
            learn,
            obs,
            outputs,
            decisions,
        });
    }
    if matches!(res.byzantine, ByzantineTeam::Learned(_)) {
        let (learn, obs) = (&exp.byzantine.learn, byz_obs_size(spec));
        teams.push(Team {
            side: "byzantine",
            learn,
            obs,
            outputs,
            decisions,
        });
    }
    run_parts(exp.eval.batch, exp.train.batch, episode, &teams)
}

/// Checks an experiment and builds what it names: the game, its rounds and
/// both teams, then what a learning run needs and the memory it would take.
pub fn resolve(mut exp: Experiment) -> Result<Resolved, ConfigError> {
    check_values(&exp)?;
    let (spec, honest) = honest_team(&mut exp)?;
    let byzantine = byzantine_team(&exp, &spec, &honest)?;
    let res = Resolved {
        exp,
        spec: Arc::new(spec),
        honest,
        byzantine,
    };
    if res.exp.harden.attempts == 0 {
        return Err(ConfigError::new(
            "harden.attempts",
            0,
            "needs at least 1 attempt",
        ));
    }
    if res.trains() {
        check_training(&res.exp)?;
        if res.exp.train.stop_when_verified {
            let why = if !res.exp.eval.verify {
                Some("it needs the verifier: set eval.verify = true")
            } else if !matches!(res.honest, HonestTeam::Learned(_)) {
                Some("only a learned honest team stops when its protocol is verified")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(ConfigError::new("train.stop_when_verified", true, why));
            }
        }
    }
    crate::memory::check(&memory_estimate(&res))?;
    Ok(res)
}

/// The game's spec and the honest team: its rounds are given, or the
/// honest protocol's own (3 for a learned team), written into `exp`.
fn honest_team(exp: &mut Experiment) -> Result<(EnvSpec, HonestTeam), ConfigError> {
    // Rounds: given, or the honest protocol's own (3 for a learned team).
    let mut scripted: Option<Arc<dyn Protocol>> = None;
    let mut frozen: Option<Arc<Loaded>> = None;
    let rounds = match exp.honest.kind {
        Kind::Scripted => {
            let p: Arc<dyn Protocol> = protocols::scripted(&exp.honest.protocol)
                .ok_or_else(|| {
                    ConfigError::new(
                        "honest.protocol",
                        quoted(&exp.honest.protocol),
                        format!(
                            "unknown protocol; expected one of {}",
                            protocols::names().join(", ")
                        ),
                    )
                })?
                .into();
            let r = exp.env.rounds.unwrap_or_else(|| p.rounds_for(exp.env.f));
            scripted = Some(p);
            r
        }
        Kind::Frozen => {
            let path = exp.honest.checkpoint.clone().ok_or_else(|| {
                ConfigError::new(
                    "honest.checkpoint",
                    "(missing)",
                    "a frozen honest team needs a checkpoint",
                )
            })?;
            let c = load_checkpoint(&path).map_err(|e| {
                ConfigError::new("honest.checkpoint", quoted(&path.display().to_string()), e)
            })?;
            let r = exp.env.rounds.unwrap_or(c.meta.rounds);
            frozen = Some(Arc::new(c));
            r
        }
        Kind::Learned => exp.env.rounds.unwrap_or(3),
    };
    let spec = EnvSpec::new(&exp.env, rounds)?;
    exp.env.rounds = Some(rounds);
    let honest = match exp.honest.kind {
        Kind::Scripted => {
            let p = scripted.expect("resolved above");
            p.check(&spec).map_err(|why| {
                ConfigError::new("honest.protocol", quoted(&exp.honest.protocol), why)
            })?;
            HonestTeam::Protocol(p)
        }
        Kind::Frozen => {
            let path = exp.honest.checkpoint.as_ref().expect("checked above");
            let c = checkpoint_for("honest.checkpoint", path, "honest", obs_size(&spec))?;
            drop(frozen);
            let policy = c.policy().map_err(|e| {
                ConfigError::new("honest.checkpoint", quoted(&path.display().to_string()), e)
            })?;
            HonestTeam::Protocol(Arc::new(GreedyHonest {
                name: format!("frozen:{}", path.display()),
                policy,
                rounds,
            }))
        }
        Kind::Learned => {
            let init = match &exp.honest.checkpoint {
                Some(path) => Some(checkpoint_for(
                    "honest.checkpoint",
                    path,
                    "honest",
                    obs_size(&spec),
                )?),
                None => None,
            };
            HonestTeam::Learned(init)
        }
    };
    Ok((spec, honest))
}

/// The Byzantine team: scripted adversaries (one row each), or a learned
/// or frozen network, checked against the game.
fn byzantine_team(
    exp: &Experiment,
    spec: &EnvSpec,
    honest: &HonestTeam,
) -> Result<ByzantineTeam, ConfigError> {
    if spec.f() == 0 && exp.byzantine.kind != Kind::Scripted {
        return Err(ConfigError::new(
            "byzantine.kind",
            quoted(exp.byzantine.kind.name()),
            "there are no Byzantine agents (env.f = 0)",
        ));
    }
    // `plays`: the adversary plays in this run (a learned or frozen team
    // leaves `byzantine.adversary` at its default, unused).
    let known = |key: &str, name: &str, plays: bool| {
        // The honest protocol `twins` would run does not matter to its check.
        let silent: Arc<dyn Protocol> = Arc::new(protocols::Constant);
        let Some(adversary) = adversaries::scripted(name, silent) else {
            return Err(ConfigError::new(
                key,
                quoted(name),
                format!(
                    "unknown adversary; expected one of {}",
                    adversaries::names().join(", ")
                ),
            ));
        };
        match adversary.check(spec) {
            Err(why) if plays => Err(ConfigError::new(key, quoted(name), why)),
            _ => Ok(()),
        }
    };
    let scripted = exp.byzantine.kind == Kind::Scripted;
    known("byzantine.adversary", &exp.byzantine.adversary, scripted)?;
    for a in &exp.eval.adversaries {
        known("eval.adversaries", a, true)?;
    }
    let byz_checkpoint = |required: bool| -> Result<Option<Arc<Loaded>>, ConfigError> {
        match &exp.byzantine.checkpoint {
            Some(path) => Ok(Some(checkpoint_for(
                "byzantine.checkpoint",
                path,
                "byzantine",
                byz_obs_size(spec),
            )?)),
            None if required => Err(ConfigError::new(
                "byzantine.checkpoint",
                "(missing)",
                "a frozen Byzantine team needs a checkpoint",
            )),
            None => Ok(None),
        }
    };
    let byzantine = match exp.byzantine.kind {
        Kind::Scripted if spec.f() == 0 => ByzantineTeam::Scripted(vec!["none".into()]),
        Kind::Scripted
            if exp.eval.adversaries.is_empty() || !matches!(honest, HonestTeam::Protocol(_)) =>
        {
            ByzantineTeam::Scripted(vec![exp.byzantine.adversary.clone()])
        }
        Kind::Scripted => ByzantineTeam::Scripted(exp.eval.adversaries.clone()),
        Kind::Learned => ByzantineTeam::Learned(byz_checkpoint(false)?),
        Kind::Frozen => ByzantineTeam::Frozen(byz_checkpoint(true)?.expect("required")),
    };
    Ok(byzantine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;

    fn err(text: &str) -> String {
        match parse(text, "x.toml").map(|e| resolve(e).map_err(|e| e.to_string())) {
            Err(e) => e.to_string(),
            Ok(Err(e)) => format!("x.toml: {e}"),
            Ok(Ok(_)) => panic!("accepted: {text}"),
        }
    }

    #[test]
    fn defaults_fill_an_empty_file() {
        let exp = parse("", "x.toml").unwrap();
        assert_eq!(exp.env.n, 3);
        assert_eq!(exp.seed, 1);
        let r = resolve(exp).unwrap();
        assert_eq!(r.exp.env.rounds, Some(2), "majority's own rounds");
        assert!(!r.trains());
    }

    #[test]
    fn overrides_go_through_the_same_validation() {
        let text = "[env]\nn = 4\n";
        let set = |s: &[&str]| {
            let sets: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            apply_sets(text, "x.toml", &sets).and_then(|t| parse(&t, "x.toml"))
        };
        let e = set(&[
            "env.f=2",
            "env.identity=pki",
            "honest.learn.hidden=[32, 32]",
            "name=x",
        ])
        .unwrap();
        assert_eq!((e.env.n, e.env.f), (4, 2));
        assert_eq!(e.env.identity, envs::consensus::Identity::Pki);
        assert_eq!(e.honest.learn.hidden, vec![32, 32]);
        assert_eq!(e.name.as_deref(), Some("x"));
        let err = set(&["env.nn=3"]).unwrap_err().to_string();
        assert!(err.starts_with("x.toml: env.nn: unknown field"), "{err}");
        let err = set(&["env.n.x=3"]).unwrap_err().to_string();
        assert!(err.contains("env.n is not a table"), "{err}");
        let err = set(&["env.n"]).unwrap_err().to_string();
        assert!(err.contains("expected key.path=value"), "{err}");
        let err = set(&["env.n=\"four\""]).unwrap_err().to_string();
        assert!(err.contains("env.n: invalid type"), "{err}");
    }

    #[test]
    fn the_default_experiment_resolves() {
        resolve(parse(DEFAULT, "default").unwrap()).unwrap();
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = err("[env]\nnn = 3\n");
        assert!(
            e.starts_with("x.toml: env.nn: unknown field `nn`, expected one of `n`"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
        let e = err("seeed = 3\n");
        assert!(e.starts_with("x.toml: seeed: unknown field `seeed`"), "{e}");
        let e = err("[env]\nn = \"three\"\n");
        assert!(e.starts_with("x.toml: env.n: invalid type"), "{e}");
        let e = err("[env]\nf = 3\n");
        assert_eq!(
            e,
            "x.toml: env.f = 3: needs f < n = 3: at least one agent must be honest"
        );
        let e = err("[env]\ncomm = \"interactive_consistency\"\nidentity = \"anonymous\"\n");
        assert!(
            e.contains("env.identity = \"anonymous\": a broadcast's recipients must recognise"),
            "{e}"
        );
        let e = err("[env]\ncomm = \"broadcast\"\n");
        assert!(
            e.contains("honest.protocol = \"majority\": majority counts every agent's input")
                && e.ends_with("use dolev_strong"),
            "{e}"
        );
        let e = err("[env]\ncomm = \"gossip\"\n");
        assert!(
            e.starts_with("x.toml: env.comm: unknown variant `gossip`"),
            "{e}"
        );
        let e = err("[honest]\nprotocol = \"paxos\"\n");
        assert!(
            e.contains("honest.protocol = \"paxos\": unknown protocol"),
            "{e}"
        );
        let e = err("[honest]\nprotocol = \"signed_relay\"\n[env]\nidentity = \"anonymous\"\n");
        assert!(
            e.contains("honest.protocol = \"signed_relay\": signed_relay reads relays"),
            "{e}"
        );
        let e = err("[eval]\nadversaries = [\"silent\", \"sneaky\"]\n");
        assert!(
            e.contains("eval.adversaries = \"sneaky\": unknown adversary"),
            "{e}"
        );
        let e = err("[env]\nrounds = 0\n");
        assert!(e.contains("env.rounds = 0"), "{e}");
        let e = err("[honest]\nkind = \"frozen\"\n");
        assert!(
            e.contains("honest.checkpoint = (missing): a frozen honest team needs a checkpoint"),
            "{e}"
        );
        let e = err("[honest]\nkind = \"frozen\"\ncheckpoint = \"/nonexistent.safetensors\"\n");
        assert!(e.contains("honest.checkpoint = \"/nonexistent.safetensors\": /nonexistent.safetensors: cannot read"), "{e}");
        let e = err("[env]\nf = 0\n[byzantine]\nkind = \"learned\"\n");
        assert!(
            e.contains("byzantine.kind = \"learned\": there are no Byzantine agents"),
            "{e}"
        );
        let e = err("[byzantine]\nkind = \"learned\"\n");
        assert!(
            e.contains("train.episodes = 0: a learning team needs training episodes"),
            "{e}"
        );
        let e = err("[byzantine]\nkind = \"learned\"\n[train]\nepisodes = 10\n[byzantine.learn]\nlr = -1.0\n");
        assert!(
            e.contains("byzantine.learn.lr = -1: needs a positive learning rate"),
            "{e}"
        );
        let e = err(
            "[byzantine]\nkind = \"learned\"\n[train]\nepisodes = 10\nstop_when_verified = true\n",
        );
        assert!(
            e.contains("train.stop_when_verified = true: only a learned honest team stops"),
            "{e}"
        );
        let e = err("[env]\ncanonical_views = true\nidentity = \"anonymous\"\n");
        assert!(
            e.contains("env.canonical_views = true: anonymous views are counts"),
            "{e}"
        );
        let e = err("[harden]\nattempts = 0\n");
        assert!(
            e.contains("harden.attempts = 0: needs at least 1 attempt"),
            "{e}"
        );
        let e = err("[honest.learn]\nalgo = \"dqn\"\n");
        assert!(
            e.contains("honest.learn.algo: unknown variant `dqn`"),
            "{e}"
        );
        let e = err("[env\n");
        assert!(e.starts_with("x.toml: "), "{e}");
    }

    #[test]
    fn unusable_values_are_refused_up_front_by_key() {
        for (text, expected) in [
            (
                "[honest.learn]\nlr = 1e9\n",
                "honest.learn.lr = 1000000000: Adam diverges",
            ),
            (
                "[honest.learn]\nlr = nan\n",
                "honest.learn.lr = NaN: needs a finite number",
            ),
            (
                "[byzantine.learn]\ngamma = nan\n",
                "byzantine.learn.gamma = NaN: needs a finite",
            ),
            (
                "[byzantine.learn]\ngamma = inf\n",
                "byzantine.learn.gamma = inf: needs a finite",
            ),
            (
                "[byzantine.learn]\ngamma = 1.5\n",
                "byzantine.learn.gamma = 1.5: a discount",
            ),
            (
                "[honest.learn]\nentropy_coef = -inf\n",
                "honest.learn.entropy_coef = -inf: needs a finite",
            ),
            (
                "[rewards]\ncorrect_commit = inf\n",
                "rewards.correct_commit = inf: needs a finite",
            ),
            (
                "[rewards]\nround_penalty = 2e6\n",
                "rewards.round_penalty = 2000000: rewards this large",
            ),
            (
                "[rewards.byzantine]\nwin = nan\n",
                "rewards.byzantine.win = NaN: needs a finite",
            ),
            (
                "[honest.learn]\nclip = nan\n",
                "honest.learn.clip = NaN: needs a finite",
            ),
            (
                "[honest.learn]\nbaseline = \"batch_mean\"\n",
                "honest.learn.baseline = \"batch_mean\": only REINFORCE",
            ),
            (
                "game = \"slush\"\n[env]\nn = 5\n[rewards]\nround_penalty_at = \"every_step\"\n",
                "rewards.round_penalty_at = \"every_step\": the sampling game",
            ),
            (
                "[honest.learn]\nclip = 0.0\n",
                "honest.learn.clip = 0: PPO's clip",
            ),
            (
                "[byzantine.learn]\nmax_grad_norm = -1.0\n",
                "byzantine.learn.max_grad_norm = -1: gradients are rescaled",
            ),
            (
                "[byzantine.learn]\nupdate_epochs = 0\n",
                "byzantine.learn.update_epochs = 0: passes over each batch",
            ),
            (
                "[byzantine.learn]\nupdate_epochs = 1000000000\n",
                "byzantine.learn.update_epochs = 1000000000: passes",
            ),
            ("[train]\nblock = 0\n", "train.block = 0: needs at least 1"),
            (
                "[train]\nreplay_batch = 0\n",
                "train.replay_batch = 0: needs at least 1",
            ),
            (
                "[eval]\nmax_work = 0.0\n",
                "eval.max_work = 0: the verifier's work bound",
            ),
            (
                "[eval]\nmax_work = nan\n",
                "eval.max_work = NaN: needs a finite",
            ),
            (
                "[eval]\nmax_instances = 0\n",
                "eval.max_instances = 0: needs at least 1",
            ),
            (
                "[harden]\nreplay_fraction = nan\n",
                "harden.replay_fraction = NaN: needs a finite",
            ),
            (
                "[harden]\nreplay_fraction = -1.0\n",
                "harden.replay_fraction = -1: a share",
            ),
            (
                "[harden]\nreplay_fraction = 5.0\n",
                "harden.replay_fraction = 5: a share",
            ),
            (
                "game = \"slush\"\n[honest.learn]\nlr = 1e9\n",
                "honest.learn.lr = 1000000000",
            ),
        ] {
            let e = match parse(text, "x.toml").map(crate::games::job) {
                Ok(Err(e)) => e.to_string(),
                Ok(Ok(_)) => panic!("accepted: {text}"),
                Err(e) => panic!("{text}: {e}"),
            };
            assert!(e.starts_with(expected), "{text}: {e}");
        }
    }

    #[test]
    fn runs_that_cannot_fit_in_memory_are_refused_with_the_estimate() {
        if crate::memory::available().is_none() {
            return; // no /proc/meminfo: nothing to compare with
        }
        let learned = "[byzantine]\nkind = \"learned\"\n[train]\nepisodes = 10\n";
        let e = err(&format!("{learned}batch = 100000000\n"));
        assert!(
            e.starts_with(
                "x.toml: train.batch = 100000000: with byzantine.learn.hidden = [64, 64], \
                 the run needs about"
            ) && e.contains("GB of memory (estimate)"),
            "{e}"
        );
        let e = err(&format!(
            "{learned}[byzantine.learn]\nhidden = [1000000, 1000000]\n"
        ));
        assert!(
            e.starts_with(
                "x.toml: byzantine.learn.hidden = [1000000, 1000000]: the run needs about"
            ),
            "{e}"
        );
        // What the repository's experiments need is far from it.
        let res = resolve(parse(DEFAULT, "default").unwrap()).unwrap();
        let total: f64 = memory_estimate(&res).iter().map(|p| p.bytes).sum();
        assert!(total < 1e9, "{total}");
    }
}
