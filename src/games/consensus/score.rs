//! Scoring a consensus experiment's teams: sampled figures with their
//! sample size, exact figures over every instance where the teams are
//! deterministic, and the verifier's optimal attack rate against the honest
//! protocol, in one metrics row. `run` runs a consensus experiment through
//! the one runner (`runner`, with the game in `consensus`).

use crate::export::{write_atomic, MetricsRow, RowKey};
use crate::games::consensus::config::Resolved;
use crate::games::consensus::teams::{ByzantinePolicy, HonestPolicy, Rollout, Tally};
use crate::streams::stream;
use agents::Stats;
use envs::consensus::Switch;
use envs::consensus::{
    instance_count, instances, verify, BatchEnv, Limits, Protocol, Report, VerifyError,
};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// `eval.episodes` sampled episodes, in batches of `eval.batch`.
pub fn sample(
    res: &Resolved,
    honest: &mut dyn HonestPolicy,
    byzantine: &mut dyn ByzantinePolicy,
    rng: &mut ChaCha8Rng,
) -> Tally {
    let (episodes, batch) = (res.exp.eval.episodes, res.exp.eval.batch);
    let mut rollout = Rollout::default();
    let mut tally = Tally::default();
    let mut env = BatchEnv::new(res.spec.clone(), batch.min(episodes as usize));
    while tally.episodes < episodes {
        let left = (episodes - tally.episodes) as usize;
        if left < env.len() {
            env = BatchEnv::new(res.spec.clone(), left);
        }
        env.reset(rng);
        rollout.play(&mut env, honest, byzantine, rng);
        tally.add(&env);
    }
    tally
}

/// Every instance played once (deterministic teams), if there are few enough.
pub fn exact(
    res: &Resolved,
    honest: &mut dyn HonestPolicy,
    byzantine: &mut dyn ByzantinePolicy,
) -> Option<Tally> {
    if instance_count(&res.spec) > res.exp.eval.max_instances as f64 {
        return None;
    }
    // Deterministic teams draw nothing; the stream only satisfies the signature.
    let mut rng = stream(0, 0);
    let mut rollout = Rollout::default();
    let mut tally = Tally::default();
    let mut env = BatchEnv::new(res.spec.clone(), 0);
    for chunk in instances(&res.spec).chunks(res.exp.eval.batch) {
        env.reset_to(chunk);
        rollout.play(&mut env, honest, byzantine, &mut rng);
        tally.add(&env);
    }
    Some(tally)
}

/// The verifier's report on `protocol`, or `None` (said why) when too large.
pub fn optimal(
    res: &Resolved,
    protocol: &dyn Protocol,
    say: &dyn Fn(String),
) -> anyhow::Result<Option<Report>> {
    if !res.exp.eval.verify {
        return Ok(None);
    }
    match verify(
        &res.spec,
        protocol,
        &Limits {
            max_work: res.exp.eval.max_work,
        },
    ) {
        Ok(r) => Ok(Some(r)),
        Err(e @ (VerifyError::TooLarge { .. } | VerifyError::TooMuchMemory { .. })) => {
            say(format!("verifier: {e}; optimal_attack_rate left empty"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// One metrics row.
pub struct RowInput<'a> {
    pub honest: String,
    pub byzantine: String,
    pub epoch: u64,
    pub episodes: u64,
    pub sampled: &'a Tally,
    pub exact: Option<Tally>,
    pub report: Option<&'a Report>,
    pub honest_stats: Option<Stats>,
    pub byzantine_stats: Option<Stats>,
}

pub fn row(res: &Resolved, x: RowInput) -> MetricsRow {
    let spec = &res.spec;
    let key = RowKey {
        run: res.name().into(),
        seed: res.exp.seed,
        n: spec.n(),
        f: spec.f(),
        rounds: spec.rounds(),
        comm: spec.comm().name().into(),
        synchrony: spec.synchrony().name().into(),
        identity: spec.identity().name().into(),
        faults: spec.faults().name().into(),
        honest: x.honest,
        byzantine: x.byzantine,
        epoch: x.epoch,
        episodes: x.episodes,
    };
    let report = x.report;
    MetricsRow {
        exact_honest_win_rate: x.exact.map(|t| t.rate(t.honest_wins)),
        // With no Byzantine agent there is no attack to rate.
        exact_attack_rate: x
            .exact
            .filter(|_| spec.f() > 0)
            .map(|t| t.rate(t.episodes - t.honest_wins)),
        optimal_attack_rate: report.map(|r| r.optimal_attack_rate),
        verified: report.map(|r| r.verified),
        instances: report.map(|r| r.instances),
        broken_instances: report.map(|r| r.broken_instances),
        ..MetricsRow::new(key, x.sampled, x.honest_stats, x.byzantine_stats)
    }
}

/// Writes `verify.json` and `counterexample.txt` for a report.
pub fn write_report(out: &Path, r: &Report) -> anyhow::Result<()> {
    write_atomic(
        &out.join("verify.json"),
        serde_json::to_string_pretty(r)?.as_bytes(),
    )?;
    if let Some(cex) = &r.counterexample {
        write_atomic(&out.join("counterexample.txt"), cex.render().as_bytes())?;
    }
    Ok(())
}
