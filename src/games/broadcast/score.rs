//! Scoring a learned reliable-broadcast protocol: the network played
//! greedily is an `RbProtocol` (its answer per view memoised), checked
//! exactly by `envs::broadcast::search::refute`; a broken one yields a
//! counterexample's moves per broken instance for training to replay.

use agents::learner::pick;
use agents::mlp::Frozen;
use envs::broadcast::game::{Step, View};
use envs::broadcast::play::{self, Reading};
use envs::broadcast::search::{self, Limits, Refutation};
use envs::broadcast::{Decision, Instance, RbProtocol, RbSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::Mutex;

/// A view packed in 32 bits: the memo's key.
fn key(v: &View) -> u32 {
    let opt = |x: Option<u8>| x.map_or(0, |v| 1 + v as u32);
    let mut k = opt(v.input) << 2 | opt(v.init);
    for &c in &v.count {
        k = k << 3 | c as u32;
    }
    k = k << 6 | v.sent as u32;
    k << 2 | opt(v.delivered)
}

/// The honest network played greedily: on each view, each head's most
/// likely allowed class (ties to the lowest). The answers are memoised per
/// view (the search asks the same views millions of times). The map is
/// only looked up; the views asked are also listed in the order first
/// asked (the search's order, so deterministic) for `selfplay explain`.
pub struct Greedy {
    pub spec: RbSpec,
    policy: Frozen,
    /// `rb.value_symmetric` and `rb.one_value_per_kind`.
    reading: Reading,
    memo: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    index: HashMap<u32, Decision>,
    asked: Vec<(View, Decision)>,
}

impl Greedy {
    pub fn new(spec: RbSpec, policy: Frozen, reading: Reading) -> Greedy {
        Greedy {
            spec,
            policy,
            reading,
            memo: Mutex::new(Memo::default()),
        }
    }

    /// The honest network of checkpoint `c` (read from `path`) for the
    /// game of its own config (`spec`, read as `reading`). A network whose shapes are not that
    /// game's views and heads is a damaged file (its config edited, or
    /// another run's networks): refused, naming the file, before any view
    /// is read past the network's inputs.
    pub fn of_checkpoint(
        path: &std::path::Path,
        c: &agents::checkpoint::Loaded,
        spec: RbSpec,
        reading: Reading,
    ) -> Result<Greedy, String> {
        let policy = c.policy()?;
        let (d, heads) = (play::honest_obs_size(&spec, reading), play::HONEST_HEADS);
        let want = heads * agents::learner::CLASSES;
        if policy.inputs() != d || policy.outputs() != want {
            return Err(format!(
                "{}: a damaged checkpoint: its config is reliable broadcast at n = {}, f = {}, \
                 whose honest network takes {d} inputs and gives {want} outputs, but its \
                 network takes {} and gives {}",
                path.display(),
                spec.n,
                spec.f,
                policy.inputs(),
                policy.outputs()
            ));
        }
        Ok(Greedy::new(spec, policy, reading))
    }

    /// Every view asked so far with its decision, in the order first asked.
    pub fn asked(&self) -> Vec<(View, Decision)> {
        self.memo
            .lock()
            .expect("no panic holds the memo")
            .asked
            .clone()
    }

    fn decide(&self, view: &View) -> Decision {
        let d = play::honest_obs_size(&self.spec, self.reading);
        let (r, heads) = (play::honest_rows(self.reading), play::HONEST_HEADS);
        let mut x = vec![0.0; r * d];
        let mut masks = vec![0u8; r * heads];
        let turned = play::honest_inputs(&self.spec, view, self.reading, &mut x, &mut masks);
        let mut scratch = [vec![], vec![]];
        let mut logits = vec![];
        self.policy.forward(&x, r, &mut scratch, &mut logits);
        // Greedy picks draw nothing: the stream is never read.
        let mut unused = ChaCha8Rng::seed_from_u64(0);
        let classes = agents::learner::CLASSES;
        let mut acts = vec![0u32; r * heads];
        for (h, a) in acts.iter_mut().enumerate() {
            *a = pick(
                &logits[h * classes..][..classes],
                masks[h],
                true,
                &mut unused,
            )
            .0;
        }
        play::decision_of(self.reading, &acts, turned)
    }
}

impl RbProtocol for Greedy {
    fn name(&self) -> String {
        "learned".into()
    }
    fn act(&self, _: &RbSpec, view: &View) -> Decision {
        let k = key(view);
        let mut memo = self.memo.lock().expect("no panic holds the memo");
        if let Some(&d) = memo.index.get(&k) {
            return d;
        }
        let d = self.decide(view);
        memo.index.insert(k, d);
        memo.asked.push((*view, d));
        d
    }
}

/// A counterexample to replay: an instance and the adversary's moves, with
/// real agent ids (`search::refute`).
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub inst: Instance,
    pub moves: Vec<Step>,
}

/// A learning row's verdict on `p` (`search::refute`: each instance's
/// search stops at its first violation), with a shortest counterexample
/// per broken instance searched, to replay.
pub fn refute(spec: &RbSpec, p: &dyn RbProtocol, limits: &Limits) -> (Refutation, Vec<Replay>) {
    let refuted = search::refute(spec, p, limits);
    let instances = envs::broadcast::instances(spec);
    let replays = refuted
        .counterexamples
        .iter()
        .map(|(k, moves)| Replay {
            inst: instances[*k],
            moves: moves.clone(),
        })
        .collect();
    (refuted, replays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_keys_are_distinct_for_distinct_views() {
        let a = View {
            count: [1, 0, 0, 0],
            ..View::default()
        };
        let b = View {
            count: [0, 1, 0, 0],
            ..View::default()
        };
        let c = View {
            input: Some(0),
            ..View::default()
        };
        let keys = [key(&a), key(&b), key(&c), key(&View::default())];
        for i in 0..4 {
            for j in 0..i {
                assert_ne!(keys[i], keys[j]);
            }
        }
    }
}
