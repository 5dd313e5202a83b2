//! `selfplay verify` in the consensus game: the exact optimal attack rate
//! of a scripted protocol or a learned checkpoint, with a counterexample.

use crate::config;
use crate::games::verify::Common;
use clap::Args;
use envs::consensus::protocols;
use envs::consensus::{verify, EnvConfig, EnvSpec, Limits, Protocol, Switch};

/// The consensus game's own flags of `selfplay verify`.
#[derive(Args, Debug, Clone)]
pub struct ConsensusFlags {
    /// authenticated, pki or anonymous.
    #[arg(long, default_value = "authenticated")]
    pub identity: String,
    /// Communication mode: agreement, broadcast, interactive_consistency or atomic_commit.
    #[arg(long, default_value = "agreement")]
    pub comm: String,
    /// Timing: synchronous, partially_synchronous or asynchronous.
    #[arg(long, default_value = "synchronous")]
    pub synchrony: String,
    /// With delays: the most rounds a message is held beyond the next (1 or 2).
    #[arg(long)]
    pub delta: Option<u8>,
    /// Partial synchrony: the stabilisation round.
    #[arg(long)]
    pub gst: Option<u8>,
}

/// The value of `--name`, or an error listing what it accepts.
fn flag<T: Switch>(name: &str, value: &str) -> Result<T, String> {
    T::parse(value).ok_or_else(|| format!("--{name} {value}: expected {}", T::expected()))
}

/// Runs `verify` (the consensus game): prints the report.
pub fn run(c: &Common, a: &ConsensusFlags) -> Result<(), String> {
    let mut trained = None;
    let p: Box<dyn Protocol> = match (&c.protocol, &c.checkpoint) {
        (Some(name), _) => protocols::scripted(name).ok_or_else(|| {
            format!(
                "--protocol {name}: unknown protocol; expected one of {}",
                protocols::names().join(", ")
            )
        })?,
        (None, Some(path)) => {
            let (meta, greedy) = super::explain::greedy_from_checkpoint(path)?;
            // Its training config, read once: the game its views belong to.
            trained = Some((
                path,
                config::parse(&meta.config, &path.display().to_string()),
            ));
            Box::new(greedy)
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let identity = flag("identity", &a.identity)?;
    let comm = flag("comm", &a.comm)?;
    // A network reads its inbox as the identity and communication mode it
    // was trained with: under others, the same bytes mean other things.
    if let Some((path, Ok(exp))) = &trained {
        let (was, asked) = (exp.env.identity, identity);
        if was != asked {
            return Err(format!(
                "--identity {}: {} was trained with identity = \"{}\"; its views mean \
                 something else under {}: verify it with --identity {}",
                asked.name(),
                path.display(),
                was.name(),
                asked.name(),
                was.name()
            ));
        }
        let (was, asked) = (exp.env.comm, comm);
        if was != asked {
            return Err(format!(
                "--comm {}: {} was trained with comm = \"{}\": verify it with --comm {}",
                asked.name(),
                path.display(),
                was.name(),
                was.name()
            ));
        }
    }
    let faults = flag("faults", c.faults.as_deref().unwrap_or("byzantine"))?;
    let synchrony = flag("synchrony", &a.synchrony)?;
    // A checkpoint's own size, unless the flags give one.
    let own = match &trained {
        Some((_, Ok(exp))) => Some((exp.env.n, exp.env.f)),
        _ => None,
    };
    let size = |flag: &str, given: Option<usize>, own: Option<usize>| {
        given
            .or(own)
            .ok_or_else(|| format!("--{flag}: required (the checkpoint's config names none)"))
    };
    let cfg = EnvConfig {
        n: size("n", c.n, own.map(|o| o.0))?,
        f: size("f", c.f, own.map(|o| o.1))?,
        identity,
        comm,
        faults,
        synchrony,
        delta: a.delta,
        gst: a.gst,
        ..EnvConfig::default()
    };
    let spec =
        EnvSpec::new(&cfg, c.rounds.unwrap_or_else(|| p.rounds_for(cfg.f))).map_err(|e| {
            format!(
                "--{} {}: {}",
                e.key.trim_start_matches("env."),
                e.value,
                e.reason
            )
        })?;
    let start = std::time::Instant::now();
    let r = verify(
        &spec,
        &*p,
        &Limits {
            max_work: c.max_work,
        },
    )
    .map_err(|e| e.to_string())?;
    if c.json {
        crate::outln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
        return Ok(());
    }
    crate::outln!("{} | {}", r.protocol, r.setting);
    crate::outln!(
        "optimal attack rate: {} ({} of {} instances broken)",
        r.optimal_attack_rate,
        r.broken_instances,
        r.instances
    );
    crate::outln!(
        "verified: {} (every placement, input vector and adversary choice searched: {} protocol evaluations, {:.3} s)",
        if r.verified { "yes" } else { "no" },
        r.evaluations,
        start.elapsed().as_secs_f64()
    );
    if let Some(why) = spec.impossibility() {
        crate::outln!("note: {why}");
    }
    if let Some(cex) = r.counterexample {
        crate::out!("{}", cex.render());
    }
    Ok(())
}
