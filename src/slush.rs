//! Running the sampling game (`game = "slush"`): scripted Slush and Snowflake
//! side by side, and a learned honest team trained in the same rounds, every
//! row sampled with its sample size (the game's randomness is the sampling
//! itself, so its figures are sampled, never exact).

use crate::config::{Experiment, Kind};
use crate::export::{csv_bytes, write_atomic, MetricsRow, RowKey};
use crate::run::stream;
use crate::teams::Tally;
use agents::checkpoint;
use agents::learner::{ActScratch, Actor};
use agents::{Buffer, Learner};
use anyhow::bail;
use envs::slush::{self, Slush, SlushEnv, SlushRule, SlushSpec, Snowflake, COMMIT};
use envs::Switch;
use envs::{ConfigError, NONE};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// A sampling-game experiment, checked.
pub struct SlushJob {
    pub exp: Experiment,
    pub spec: SlushSpec,
}

impl SlushJob {
    pub fn new(exp: Experiment) -> Result<SlushJob, ConfigError> {
        crate::config::check_values(&exp)?;
        let spec = SlushSpec::new(&exp.env, &exp.slush)?;
        let env = &exp.env;
        for (key, value, default) in [
            ("env.comm", env.comm.name(), "agreement"),
            ("env.synchrony", env.synchrony.name(), "synchronous"),
            ("env.faults", env.faults.name(), "byzantine"),
        ] {
            if value != default {
                return Err(ConfigError::new(
                    key,
                    format!("\"{value}\""),
                    format!(
                        "the sampling game is synchronous agreement with Byzantine answerers; \
                         only \"{default}\" applies"
                    ),
                ));
            }
        }
        if exp.rewards.round_penalty_at != envs::RoundPenaltyAt::End {
            return Err(ConfigError::new(
                "rewards.round_penalty_at",
                "\"every_step\"",
                "the sampling game pays its rewards at the end: only \"end\" applies",
            ));
        }
        let adv = &exp.byzantine.adversary;
        if spec.f > 0 && !slush::ADVERSARIES.contains(&adv.as_str()) {
            return Err(ConfigError::new(
                "byzantine.adversary",
                format!("\"{adv}\""),
                format!(
                    "the sampling game's adversaries are {}",
                    slush::ADVERSARIES.join(", ")
                ),
            ));
        }
        if exp.byzantine.kind != Kind::Scripted {
            return Err(ConfigError::new(
                "byzantine.kind",
                format!("\"{}\"", exp.byzantine.kind.name()),
                "the sampling game has scripted Byzantine answerers only, for now",
            ));
        }
        if exp.honest.kind == Kind::Frozen {
            return Err(ConfigError::new(
                "honest.kind",
                "\"frozen\"",
                "not supported in the sampling game yet",
            ));
        }
        if exp.honest.kind == Kind::Learned && exp.train.episodes == 0 {
            return Err(ConfigError::new(
                "train.episodes",
                0,
                "a learning team needs training episodes",
            ));
        }
        Ok(SlushJob { exp, spec })
    }

    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("slush")
    }
}

/// The honest team of the sampling game as it plays.
enum Honest<'a> {
    Rule(&'a mut dyn SlushRule),
    Net {
        actor: &'a Actor,
        greedy: bool,
        record: Option<&'a mut Buffer>,
    },
}

/// Plays one batch to its end; returns nothing, the env holds the outcome.
fn play(env: &mut SlushEnv, honest: &mut Honest, adversary: &str, rng: &mut ChaCha8Rng) {
    let n = env.spec.n;
    let d = env.spec.obs_size();
    let a = env.spec.byz_action_len();
    let mut byz = vec![NONE; env.len() * a];
    let mut actions = vec![COMMIT; env.len() * n];
    let mut obs = vec![];
    let mut who = vec![];
    let mut scratch = ActScratch::default();
    if let Honest::Rule(r) = honest {
        r.reset(env.len(), n);
    }
    while !env.done() {
        env.draw(rng);
        if a > 0 {
            byz.fill(NONE);
            slush::adversary_answers(adversary, env, rng, &mut byz);
        }
        env.answer(&byz);
        match honest {
            Honest::Rule(r) => {
                for e in 0..env.len() {
                    for i in envs::rules::bits(env.acting(e)) {
                        actions[e * n + i] = r.act(env, e, i);
                    }
                }
            }
            Honest::Net {
                actor,
                greedy,
                record,
            } => {
                who.clear();
                for e in 0..env.len() {
                    who.extend(envs::rules::bits(env.acting(e)).map(|i| e * n + i));
                }
                obs.resize(who.len() * d, 0.0);
                for (k, &ei) in who.iter().enumerate() {
                    env.encode(ei / n, ei % n, &mut obs[k * d..][..d]);
                }
                let masks = vec![env.honest_mask(); who.len()];
                let (mut acts, mut logp, mut values) = (
                    vec![0u32; who.len()],
                    vec![0.0; who.len()],
                    vec![0.0; who.len()],
                );
                let want_values = record.is_some();
                actor.act(
                    &obs,
                    &masks,
                    who.len(),
                    *greedy,
                    rng,
                    &mut scratch,
                    &mut acts,
                    &mut logp,
                    want_values.then_some(&mut values[..]),
                );
                for (k, &ei) in who.iter().enumerate() {
                    actions[ei] = acts[k] as u8;
                    if let Some(buf) = record.as_deref_mut() {
                        buf.push(
                            ei,
                            &obs[k * d..][..d],
                            &masks[k..k + 1],
                            &acts[k..k + 1],
                            logp[k],
                            values[k],
                        );
                    }
                }
            }
        }
        env.step(&actions);
    }
}

/// Episodes where every honest agent decided the initial honest majority.
fn majority(env: &SlushEnv) -> u64 {
    let n = env.spec.n;
    (0..env.len())
        .filter(|&e| {
            let ep = env.episode(e);
            let honest = envs::rules::all(n) & !ep.byzantine;
            let ones = (ep.inputs & honest).count_ones();
            let zeros = honest.count_ones() - ones;
            let want = if ones > zeros { honest } else { 0 };
            ones != zeros && ep.decided & honest == honest && ep.values & honest == want
        })
        .count() as u64
}

fn tally(env: &SlushEnv) -> Tally {
    let mut t = Tally::default();
    for e in 0..env.len() {
        t.add_episode(env.spec.n, env.spec.rounds, env.episode(e), &env.outcome(e));
    }
    t
}

/// `eval.episodes` sampled episodes of `honest` against the configured
/// adversary, and how many of them decided the initial majority.
fn evaluate(job: &SlushJob, honest: &mut Honest, rng: &mut ChaCha8Rng) -> (Tally, u64) {
    let (episodes, batch) = (job.exp.eval.episodes, job.exp.eval.batch);
    let mut total = Tally::default();
    let mut maj = 0;
    while total.episodes < episodes {
        let len = batch.min((episodes - total.episodes) as usize);
        let mut env = SlushEnv::new(job.spec.clone(), len);
        env.reset(rng);
        play(&mut env, honest, &job.exp.byzantine.adversary, rng);
        maj += majority(&env);
        total.merge(&tally(&env));
    }
    (total, maj)
}

fn row(
    job: &SlushJob,
    honest: &str,
    epoch: u64,
    episodes: u64,
    (t, maj): &(Tally, u64),
    stats: Option<agents::Stats>,
) -> MetricsRow {
    let s = &job.spec;
    let key = RowKey {
        run: job.name().into(),
        seed: job.exp.seed,
        n: s.n,
        f: s.f,
        rounds: s.rounds,
        comm: "slush".into(),
        synchrony: "synchronous".into(),
        identity: "anonymous".into(),
        faults: "byzantine".into(),
        honest: honest.into(),
        byzantine: if s.f == 0 {
            "none".into()
        } else {
            job.exp.byzantine.adversary.clone()
        },
        epoch,
        episodes,
    };
    MetricsRow {
        majority_rate: Some(t.rate(*maj)),
        ..MetricsRow::new(key, t, stats, None)
    }
}

/// Runs a sampling-game experiment: baselines first, then the learned team.
pub fn run(job: &SlushJob, out: &Path, say: &dyn Fn(String)) -> anyhow::Result<Vec<MetricsRow>> {
    let exp = &job.exp;
    let started = std::time::Instant::now();
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    write_atomic(&out.join("config.toml"), toml::to_string(exp)?.as_bytes())?;
    say(format!(
        "run {} | {} | seed {}",
        job.name(),
        job.spec.describe(),
        exp.seed
    ));
    let mut rows = vec![];
    let report = |r: &MetricsRow| {
        say(format!(
            "{:<10} episodes {:>7}  agreement {:.4}  majority {:.4}  win {:.4}  mean decision round {:.2}  ({} episodes sampled)",
            r.honest,
            r.episodes,
            r.agreement_rate,
            r.majority_rate.unwrap_or(0.0),
            r.honest_win_rate,
            r.mean_decision_round,
            r.eval_episodes
        ))
    };
    let mut slush_rule = Slush;
    let mut snowflake = Snowflake::default();
    let baselines: [(&str, &mut dyn SlushRule); 2] =
        [("slush", &mut slush_rule), ("snowflake", &mut snowflake)];
    for (k, (name, rule)) in baselines.into_iter().enumerate() {
        let t = evaluate(
            job,
            &mut Honest::Rule(rule),
            &mut stream(exp.seed, 10 + k as u64),
        );
        let r = row(job, name, 0, 0, &t, None);
        report(&r);
        rows.push(r);
    }
    if exp.honest.kind == Kind::Learned {
        let d = job.spec.obs_size();
        let mut init = stream(exp.seed, 0);
        let mut rng = stream(exp.seed, 1);
        let mut upd = stream(exp.seed, 2);
        let mut learner = Learner::new(d, 1, &exp.honest.learn, &mut init)?;
        let (mut episodes, mut epoch, mut evals) = (0u64, 0u64, 0u64);
        // Training draws every input split (unless the experiment fixes
        // `slush.train_split`), so that validity binds: on a fixed split a
        // constant colour would "agree" every time.
        let mut train_spec = job.spec.clone();
        if !exp.slush.train_split {
            train_spec.ones = None;
        }
        let mut env = SlushEnv::new(train_spec, exp.train.batch);
        let mut last = None;
        let mut next_eval = 0;
        loop {
            if episodes >= next_eval || episodes >= exp.train.episodes {
                while next_eval <= episodes {
                    next_eval += exp.train.eval_every;
                }
                // The learned protocol as it stands, played greedily.
                let actor = learner.actor()?;
                let mut h = Honest::Net {
                    actor: &actor,
                    greedy: true,
                    record: None,
                };
                let t = evaluate(job, &mut h, &mut stream(exp.seed, 1000 + evals));
                let r = row(job, "learned", epoch, episodes, &t, last.take());
                report(&r);
                rows.push(r);
                evals += 1;
                write_atomic(&out.join("metrics.csv"), &csv_bytes(&rows)?)?;
                // The network as of this row, as every training run keeps it.
                let meta = checkpoint::Meta {
                    team: "honest".into(),
                    obs_dim: d,
                    heads: 1,
                    hidden: exp.honest.learn.hidden.clone(),
                    rounds: job.spec.rounds,
                    episodes,
                    config: toml::to_string(exp)?,
                };
                checkpoint::save(&out.join("honest.safetensors"), &learner, &meta)
                    .map_err(anyhow::Error::msg)?;
            }
            if episodes >= exp.train.episodes {
                break;
            }
            let actor = learner.actor()?;
            let mut buf = Buffer::new(d, 1);
            env.reset(&mut rng);
            play(
                &mut env,
                &mut Honest::Net {
                    actor: &actor,
                    greedy: false,
                    record: Some(&mut buf),
                },
                &exp.byzantine.adversary,
                &mut rng,
            );
            let n = job.spec.n;
            for e in 0..env.len() {
                let (ep, o) = (env.episode(e), env.outcome(e));
                for i in envs::rules::bits(envs::rules::all(n) & !ep.byzantine) {
                    buf.reward_last(
                        e * n + i,
                        exp.rewards.honest_for(n, job.spec.rounds, ep, &o, i),
                    );
                }
            }
            let s = learner.update(&buf, &mut upd)?;
            if !s.policy_loss.is_finite() {
                bail!("training diverged: honest team, epoch {epoch}");
            }
            last = Some(s);
            episodes += env.len() as u64;
            epoch += 1;
        }
    }
    write_atomic(&out.join("metrics.csv"), &csv_bytes(&rows)?)?;
    let timing = [crate::export::TimingRow {
        run: job.name().into(),
        stage: "total".into(),
        seconds: started.elapsed().as_secs_f64(),
        episodes_per_second: None,
        episodes: None,
    }];
    write_atomic(&out.join("timing.csv"), &csv_bytes(&timing)?)?;
    say(format!("wrote {}", out.join("metrics.csv").display()));
    Ok(rows)
}
