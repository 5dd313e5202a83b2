//! The exact search checked against the engine and against brute force.

use super::*;
use crate::consensus::comm::outcome_for;
use crate::consensus::rules::{all, bits, Episode, Instance};
use crate::consensus::spec::{EnvConfig, NONE};
use crate::sampling::{
    Slush, SlushConfig, SlushEnv, SlushRule, SlushSpec, Snowflake, Trivial, COMMIT, HOLD0, HOLD1,
    TRIVIAL,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn spec(n: usize, f: usize, k: usize, alpha: usize, beta: usize, rounds: u8) -> SlushSpec {
    spec_with(n, f, k, alpha, beta, rounds, None)
}

fn spec_with(
    n: usize,
    f: usize,
    k: usize,
    alpha: usize,
    beta: usize,
    rounds: u8,
    ones: Option<usize>,
) -> SlushSpec {
    let env = EnvConfig {
        n,
        f,
        ones,
        ..EnvConfig::default()
    };
    let cfg = SlushConfig {
        k,
        alpha,
        beta,
        rounds,
        ..SlushConfig::default()
    };
    SlushSpec::new(&env, &cfg).unwrap()
}

fn engine_rule(rule: &Rule) -> Box<dyn SlushRule> {
    match rule {
        Rule::Slush => Box::new(Slush),
        Rule::Snowflake => Box::<Snowflake>::default(),
        Rule::Table(t) => Box::new(TableRule(t.clone())),
        Rule::Trivial(t) => Box::new(*t),
    }
}

/// A table rule played by the engine, as a learned policy's greedy
/// actions are: the action for (round, own colour, counts).
struct TableRule(Table);

impl SlushRule for TableRule {
    fn name(&self) -> String {
        "table".into()
    }
    fn reset(&mut self, _: usize, _: usize) {}
    fn act(&mut self, env: &SlushEnv, e: usize, i: usize) -> u8 {
        let [z, o] = env.counts(e, i);
        self.0
            .action(env.round(), env.colour(e, i), [z as usize, o as usize])
    }
}

/// A table of random actions, holding allowed in the last round too (a
/// policy that breaks termination), from a fixed seed.
fn random_table(k: usize, rounds: u8, seed: u64) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Table::new(k, rounds, |_, _, _| rng.random_range(0..3u8))
}

/// Slush written out as a table: what a learned policy that found Slush
/// would play.
fn slush_table(k: usize, alpha: usize, rounds: u8) -> Table {
    Table::new(k, rounds, |round, colour, c| {
        if round >= rounds {
            COMMIT
        } else if c[1 - colour as usize] >= alpha {
            [HOLD0, HOLD1][1 - colour as usize]
        } else {
            colour
        }
    })
}

/// The node states of episode `e`, as the search names them, after the
/// engine's step (counters carried from `before`, which the search computed).
fn observed(env: &SlushEnv, e: usize, i: usize, counter: u8) -> Node {
    let ep = env.episode(e);
    let decided = ep.decided >> i & 1 == 1;
    Node {
        colour: env.colour(e, i),
        decided,
        counter: if decided { 0 } else { counter },
    }
}

/// `(h0, h1, m)`: what node `i` of episode `e` sampled this round.
fn composition(env: &SlushEnv, e: usize, i: usize) -> (usize, usize, usize) {
    let ep = env.episode(e);
    let mut c = (0, 0, 0);
    for &j in env.sample(e, i) {
        let j = j as usize;
        if ep.is_byzantine(j) {
            c.2 += 1;
        } else if env.colour(e, j) == 0 {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    c
}

/// A Byzantine answerer for [`play`]: the engine, every node's state as
/// the search names it, randomness, and the engine's answer array to fill.
type Attack<'a> = dyn FnMut(&SlushEnv, &[Vec<Node>], &mut ChaCha8Rng, &mut [u8]) + 'a;

/// Plays `episodes` engine episodes of `rule` against `attack` (which
/// fills the engine's Byzantine answers each round), checking after
/// every step that the search's `next` predicted every node's new state
/// from the counts the engine showed it. Returns the episodes lost on
/// each of [`Score::ALL`]: disagreements, runs where not every honest
/// node decided the initial majority, runs the engine does not count as
/// an honest win.
fn play(
    solver: &Solver,
    spec: &SlushSpec,
    episodes: usize,
    seed: u64,
    attack: &mut Attack,
) -> [u64; 3] {
    let n = spec.n;
    let mut env = SlushEnv::new(spec.clone(), episodes);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rule = engine_rule(&solver.rule);
    rule.reset(episodes, n);
    env.reset(&mut rng);
    let mut nodes: Vec<Vec<Node>> = (0..episodes)
        .map(|e| (0..n).map(|i| Node::start(env.colour(e, i))).collect())
        .collect();
    let mut byz = vec![NONE; episodes * spec.byz_action_len()];
    let mut acts = vec![COMMIT; episodes * n];
    while !env.done() {
        env.draw(&mut rng);
        byz.fill(NONE);
        attack(&env, &nodes, &mut rng, &mut byz);
        env.answer(&byz);
        let round = env.round();
        let mut want = nodes.clone();
        for e in 0..episodes {
            for i in bits(env.acting(e)) {
                acts[e * n + i] = rule.act(&env, e, i);
                let [z, o] = env.counts(e, i);
                want[e][i] = solver.next(nodes[e][i], [z as usize, o as usize], round);
            }
        }
        env.step(&acts);
        for (e, want) in want.iter().enumerate() {
            for i in bits(all(n) & !env.episode(e).byzantine) {
                let got = observed(&env, e, i, want[i].counter);
                assert_eq!(got, want[i], "episode {e} node {i} round {round}");
            }
        }
        nodes = want;
    }
    let mut bad = [0; 3];
    for e in 0..episodes {
        let ep = env.episode(e);
        bad[0] += !env.outcome(e).agreement as u64;
        bad[1] += !majority_decided(n, ep) as u64;
        bad[2] += !env.outcome(e).honest_wins() as u64;
    }
    bad
}

/// The runner's `majority` count, for one episode.
fn majority_decided(n: usize, ep: &Episode) -> bool {
    let honest = all(n) & !ep.byzantine;
    let ones = (ep.inputs & honest).count_ones();
    let zeros = honest.count_ones() - ones;
    let want = if ones > zeros { honest } else { 0 };
    ones != zeros && ep.decided & honest == honest && ep.values & honest == want
}

/// A sampled rate agrees with an exact probability: within 5 standard
/// errors (plus a hair for p = 0 or 1, where any miss is a failure).
fn close(bad: u64, episodes: usize, p: f64) -> bool {
    let rate = bad as f64 / episodes as f64;
    (rate - p).abs() <= 5.0 * (p * (1.0 - p) / episodes as f64).sqrt() + 1e-12
}

#[test]
fn the_search_steps_nodes_as_the_engine_does() {
    // k = 4 >= 2 alpha: both colours can reach alpha, so the order of
    // the engine's checks shows; beta = 1 lets a fresh adoption hold its counter.
    let trivial = TRIVIAL.iter().map(|t| Rule::parse(t).unwrap());
    let rules: Vec<Rule> = [Rule::Slush, Rule::Snowflake]
        .into_iter()
        .chain(trivial)
        .collect();
    for (n, f, k, alpha, beta) in [(5, 1, 3, 2, 2), (7, 2, 4, 2, 1), (6, 1, 2, 1, 3)] {
        for rule in rules.clone() {
            let spec = spec(n, f, k, alpha, beta, 6);
            let solver = Solver::new(&spec, rule.clone()).unwrap();
            let a = spec.byz_action_len();
            play(&solver, &spec, 400, 7, &mut |env, _, rng, byz| {
                for e in 0..env.len() {
                    for (bo, _) in env.episode(e).byzantine_ids().enumerate() {
                        for i in 0..n {
                            byz[e * a + bo * n + i] = rng.random_range(0..3u8).min(NONE);
                        }
                    }
                }
            });
        }
    }
}

/// Brute force over ids: every undecided honest node's every `k`-subset
/// of the others, every Byzantine answer to every query it received (the
/// engine's action, one per Byzantine node and querier), the engine's
/// outcome scoring. The best answers after each round's samples, the
/// average over samples: every adversary decision tree, with no
/// symmetry and no option sets. Memoised on the full id-level state.
struct Brute<'a> {
    s: &'a Solver,
    byz: u32,
    inputs: u32,
    score: Score,
    /// The adversary fixes its answer to every (querier, Byzantine
    /// node) pair before the draw ([`Sight::Querier`]).
    blind: bool,
    memo: BTreeMap<(u8, Vec<Node>), f64>,
}

impl Brute<'_> {
    fn loss(&self, nodes: &[Node]) -> f64 {
        let mut ep = Episode::new(Instance {
            byzantine: self.byz,
            inputs: self.inputs,
            sender: 0,
        });
        for i in bits(all(self.s.spec.n) & !self.byz) {
            if nodes[i].decided {
                ep.decided |= 1 << i;
                ep.values |= (nodes[i].colour as u32) << i;
            }
        }
        let outcome = outcome_for(self.s.spec.n, &ep);
        let lost = match self.score {
            Score::Majority => !majority_decided(self.s.spec.n, &ep),
            Score::Disagreement => !outcome.agreement,
            Score::Correctness => !outcome.honest_wins(),
        };
        lost as u8 as f64
    }

    fn value(&mut self, round: u8, nodes: Vec<Node>) -> f64 {
        let s = self.s;
        let acting: Vec<usize> = bits(all(s.spec.n) & !self.byz)
            .filter(|&i| !nodes[i].decided)
            .collect();
        if round > s.spec.rounds || acting.is_empty() {
            return self.loss(&nodes);
        }
        if let Some(&v) = self.memo.get(&(round, nodes.clone())) {
            return v;
        }
        let subsets: Vec<Vec<u32>> = acting
            .iter()
            .map(|&i| {
                (0..1u32 << s.spec.n)
                    .filter(|m| m.count_ones() as usize == s.spec.k && m >> i & 1 == 0)
                    .collect()
            })
            .collect();
        let joint: usize = subsets.iter().map(|v| v.len()).product();
        let draw = |mut x: usize| -> Vec<u32> {
            let mut sample = vec![];
            for v in &subsets {
                sample.push(v[x % v.len()]);
                x /= v.len();
            }
            sample
        };
        // Every node's next state, as the engine counts the answers.
        let byz = self.byz;
        let step = |sample: &[u32], answer: &BTreeMap<(usize, usize), u8>| -> Vec<Node> {
            let mut next = nodes.clone();
            for (&i, &m) in acting.iter().zip(sample) {
                let mut c = [0usize; 2];
                for j in bits(m) {
                    let v = if byz >> j & 1 == 1 {
                        answer[&(i, j)]
                    } else {
                        nodes[j].colour
                    };
                    if v < NONE {
                        c[v as usize] += 1;
                    }
                }
                next[i] = s.next(nodes[i], c, round);
            }
            next
        };
        if self.blind {
            // A table of answers per (querier, Byzantine node), then the draw.
            let slots: Vec<(usize, usize)> = acting
                .iter()
                .flat_map(|&i| bits(self.byz).map(move |j| (i, j)))
                .collect();
            let mut best = 0.0f64;
            for mut y in 0..3usize.pow(slots.len() as u32) {
                let mut answer = BTreeMap::new();
                for &slot in &slots {
                    answer.insert(slot, [0u8, 1, NONE][y % 3]);
                    y /= 3;
                }
                let nexts: Vec<Vec<Node>> = (0..joint).map(|x| step(&draw(x), &answer)).collect();
                let mut sum = 0.0;
                for next in nexts {
                    sum += self.value(round + 1, next);
                }
                best = best.max(sum / joint as f64);
            }
            self.memo.insert((round, nodes), best);
            return best;
        }
        let mut sum = 0.0;
        for x in 0..joint {
            let sample = draw(x);
            // One answer per (querier, Byzantine node it sampled).
            let slots: Vec<(usize, usize)> = acting
                .iter()
                .zip(&sample)
                .flat_map(|(&i, &m)| bits(m & self.byz).map(move |j| (i, j)))
                .collect();
            let mut best = 0.0f64;
            for mut y in 0..3usize.pow(slots.len() as u32) {
                let mut answer = BTreeMap::new();
                for &slot in &slots {
                    answer.insert(slot, [0u8, 1, NONE][y % 3]);
                    y /= 3;
                }
                let next = step(&sample, &answer);
                best = best.max(self.value(round + 1, next));
            }
            sum += best;
        }
        let v = sum / joint as f64;
        self.memo.insert((round, nodes), v);
        v
    }
}

/// The brute force's values for every placement and every assignment of
/// `ones` inputs (each must be the same, by symmetry); from n = 5 on,
/// for the first of each only, to keep the test quick.
fn brute_all(s: &Solver, ones: usize, score: Score) -> Vec<f64> {
    brute_sight(s, ones, score, false)
}

fn brute_sight(s: &Solver, ones: usize, score: Score, blind: bool) -> Vec<f64> {
    let mut out = vec![];
    let few = if s.spec.n <= 4 { usize::MAX } else { 1 };
    for byz in (0..1u32 << s.spec.n)
        .filter(|m| m.count_ones() as usize == s.spec.f)
        .take(few)
    {
        let honest = all(s.spec.n) & !byz;
        for inputs in (0..1u32 << s.spec.n)
            .filter(|m| m & !honest == 0 && m.count_ones() as usize == ones)
            .take(few)
        {
            let nodes = (0..s.spec.n)
                .map(|i| Node::start((inputs >> i & 1) as u8))
                .collect();
            let mut b = Brute {
                s,
                byz,
                inputs,
                score,
                blind,
                memo: BTreeMap::new(),
            };
            out.push(b.value(1, nodes));
        }
    }
    out
}

#[test]
fn the_search_equals_a_brute_force_over_every_adversary_decision_tree() {
    // (n, f, k, alpha, beta, rounds): tiny settings where ids are cheap.
    let settings = [
        (4, 1, 2, 1, 1, 3),
        (4, 1, 2, 2, 2, 3),
        (4, 1, 2, 1, 2, 4),
        (5, 2, 3, 2, 1, 3),
        (5, 1, 3, 2, 2, 3),
        (4, 2, 2, 1, 1, 3),
        (4, 0, 2, 1, 1, 4),
    ];
    for (n, f, k, alpha, beta, rounds) in settings {
        for rule in [Rule::Slush, Rule::Snowflake] {
            let mut s = Solver::new(&spec(n, f, k, alpha, beta, rounds), rule.clone()).unwrap();
            for fig in s.every_split() {
                let what = format!(
                    "{rule:?} n={n} f={f} k={k} alpha={alpha} beta={beta} R={rounds} ones={}",
                    fig.ones
                );
                for v in brute_all(&s, fig.ones, Score::Disagreement) {
                    assert!(
                        (v - fig.disagreement).abs() < 1e-12,
                        "{what}: disagreement {} vs brute {v}",
                        fig.disagreement
                    );
                }
                for v in brute_all(&s, fig.ones, Score::Majority) {
                    assert!(
                        (v - fig.majority).abs() < 1e-12,
                        "{what}: majority {} vs brute {v}",
                        fig.majority
                    );
                }
            }
        }
    }
}

#[test]
fn the_search_equals_the_best_of_every_explicit_strategy() {
    // n = 3, f = 1, k = 1, two rounds: in round 1 each honest node
    // queries one of the two others; a strategy names the Byzantine
    // answer to every query for each of the 4 joint samples: 3^4 = 81
    // strategies (round 2 commits whatever is answered). Each is scored
    // by enumerating the samples; the best must be the search's figure.
    for rule in [Rule::Slush, Rule::Snowflake] {
        let mut s = Solver::new(&spec(3, 1, 1, 1, 1, 2), rule.clone()).unwrap();
        let byz = 0b100u32;
        for ones in 0..=2usize {
            let inputs = [0b00u32, 0b01, 0b11][ones];
            let start: Vec<Node> = (0..3)
                .map(|i| Node::start((inputs >> i & 1) as u8))
                .collect();
            // Joint samples: node 0 asks 1 or 2, node 1 asks 0 or 2.
            let joint = [(1usize, 0usize), (2, 0), (1, 2), (2, 2)];
            let slots: Vec<usize> = joint
                .iter()
                .map(|&(a, b)| (a == 2) as usize + (b == 2) as usize)
                .collect();
            let total: u32 = slots.iter().sum::<usize>() as u32;
            let (mut best_d, mut best_m) = (0.0f64, 0.0f64);
            for strategy in 0..3usize.pow(total) {
                let mut y = strategy;
                let (mut d, mut m) = (0.0, 0.0);
                for &(a, b) in &joint {
                    let mut next = start.clone();
                    for (i, peer) in [(0usize, a), (1, b)] {
                        let v = if peer == 2 {
                            let v = [0u8, 1, NONE][y % 3];
                            y /= 3;
                            v
                        } else {
                            start[peer].colour
                        };
                        let mut c = [0usize; 2];
                        if v < NONE {
                            c[v as usize] += 1;
                        }
                        next[i] = s.next(start[i], c, 1);
                    }
                    // Round 2: every undecided node commits, whatever it hears.
                    for node in next.iter_mut().take(2) {
                        if !node.decided {
                            *node = s.next(*node, [0, 0], 2);
                        }
                    }
                    let brute = Brute {
                        s: &s,
                        byz,
                        inputs,
                        score: Score::Disagreement,
                        blind: false,
                        memo: BTreeMap::new(),
                    };
                    d += 0.25 * brute.loss(&next);
                    let brute = Brute {
                        s: &s,
                        byz,
                        inputs,
                        score: Score::Majority,
                        blind: false,
                        memo: BTreeMap::new(),
                    };
                    m += 0.25 * brute.loss(&next);
                }
                best_d = best_d.max(d);
                best_m = best_m.max(m);
            }
            let fig = s.figures(ones);
            assert!(
                (fig.disagreement - best_d).abs() < 1e-12,
                "{rule:?} ones={ones}"
            );
            assert!(
                (fig.majority - best_m).abs() < 1e-12,
                "{rule:?} ones={ones}"
            );
        }
    }
}

#[test]
fn without_byzantine_nodes_the_figures_are_the_protocols_own_failure_rates() {
    // n = 5, f = 0, 4 rounds: nothing to choose, so the search is a plain
    // expectation; the brute force enumerates every sample of every node,
    // and the engine plays it (no Byzantine answers at all).
    for rule in [Rule::Slush, Rule::Snowflake] {
        // (k, alpha, ones): a 3-2 split under the preprint's k and alpha
        // (a 4-1 split cannot fail there: the lone node flips at once,
        // and no other sees two answers against it); a 4-1 split
        // under k = 2, alpha = 1.
        for (k, alpha, ones) in [(3, 2, 2), (2, 1, 1)] {
            let spec = spec_with(5, 0, k, alpha, 2, 4, Some(ones));
            let mut s = Solver::new(&spec, rule.clone()).unwrap();
            let fig = s.figures(ones);
            let d = brute_all(&s, ones, Score::Disagreement)[0];
            let m = brute_all(&s, ones, Score::Majority)[0];
            assert!(
                (d - fig.disagreement).abs() < 1e-12,
                "{rule:?} {ones}: {d} vs {fig:?}"
            );
            assert!(
                (m - fig.majority).abs() < 1e-12,
                "{rule:?} {ones}: {m} vs {fig:?}"
            );
            // The figures are not trivial here: the test can tell.
            assert!(
                fig.disagreement > 0.01 && fig.majority > fig.disagreement,
                "{fig:?}"
            );
            let episodes = 20_000;
            let bad = play(&s, &spec, episodes, 11 + ones as u64, &mut |_, _, _, _| {});
            assert!(
                close(bad[0], episodes, fig.disagreement),
                "{rule:?} {ones}: engine {bad:?} vs {fig:?}"
            );
            assert!(
                close(bad[1], episodes, fig.majority),
                "{rule:?} {ones}: engine {bad:?} vs {fig:?}"
            );
        }
    }
}

#[test]
fn the_optimal_adversary_played_in_the_engine_reaches_the_figure() {
    // The search's best moves, realised as Byzantine answers through the
    // engine's own interface (after `draw`, every sample in view): its
    // sampled rate must match the exact figure. This ties the model's
    // information structure to what the engine lets an answerer do.
    for (f, ones, rounds) in [(1, 1, 5), (2, 0, 4), (1, 2, 4)] {
        let first = Rule::Trivial(Trivial::FirstSample);
        for rule in [Rule::Slush, Rule::Snowflake, first] {
            for (k, score) in Score::ALL.into_iter().enumerate() {
                let spec = spec_with(5, f, 3, 2, 2, rounds, Some(ones));
                let mut s = Solver::new(&spec, rule.clone()).unwrap();
                // A tied split has no majority: any play reaches 1.
                let goal = s.goal(score, ones).unwrap_or(Goal::Disagreement);
                let exact = s.score(score, ones);
                let n = spec.n;
                let a = spec.byz_action_len();
                let episodes = 4000;
                let stepper = Solver::new(&spec, rule.clone()).unwrap();
                let bad = play(&stepper, &spec, episodes, 21, &mut |env, nodes, _, byz| {
                    let round = env.round();
                    for e in 0..env.len() {
                        let ep = env.episode(e);
                        let honest = all(n) & !ep.byzantine;
                        let acting: Vec<usize> = bits(env.acting(e)).collect();
                        let moves: Vec<(Node, (usize, usize, usize))> = acting
                            .iter()
                            .map(|&i| (nodes[e][i], composition(env, e, i)))
                            .collect();
                        let decided: Vec<Node> =
                            bits(honest & ep.decided).map(|i| nodes[e][i]).collect();
                        let targets = s.best_move(goal, round, &moves, &decided);
                        for ((&i, &(node, c)), &target) in acting.iter().zip(&moves).zip(&targets) {
                            let (b0, b1) = s.answers_for(node, c, round, target).unwrap();
                            let peers = env
                                .sample(e, i)
                                .iter()
                                .map(|&j| j as usize)
                                .filter(|&j| ep.is_byzantine(j));
                            for (t, j) in peers.enumerate() {
                                let ordinal =
                                    (ep.byzantine & ((1u32 << j) - 1)).count_ones() as usize;
                                byz[e * a + ordinal * n + i] = if t < b0 {
                                    0
                                } else if t < b0 + b1 {
                                    1
                                } else {
                                    NONE
                                };
                            }
                        }
                    }
                });
                let got = bad[k];
                assert!(
                    close(got, episodes, exact),
                    "{rule:?} f={f} ones={ones} {score:?}: engine {got}/{episodes} vs exact {exact}"
                );
            }
        }
    }
}

#[test]
fn the_preprint_settings_give_probabilities_and_two_byzantine_nodes_do_more_harm() {
    // n = 5, k = 3, alpha = 2, 8 rounds (the engine's defaults), 4 + 1 and 3 + 2.
    for rule in [Rule::Slush, Rule::Snowflake] {
        let one = Solver::new(&spec(5, 1, 3, 2, 3, 8), rule.clone())
            .unwrap()
            .uniform();
        let two = Solver::new(&spec(5, 2, 3, 2, 3, 8), rule.clone())
            .unwrap()
            .uniform();
        for x in [
            one.disagreement,
            one.majority,
            two.disagreement,
            two.majority,
        ] {
            assert!((0.0..=1.0).contains(&x), "{rule:?}: {one:?} {two:?}");
        }
        assert!(one.disagreement <= one.majority && two.disagreement <= two.majority);
        assert!(
            two.disagreement > one.disagreement + 0.2,
            "{rule:?}: {one:?} {two:?}"
        );
        // With one Byzantine node a unanimous start is safe: a node sees at
        // most one answer against its colour, below alpha.
        let mut s = Solver::new(&spec(5, 1, 3, 2, 3, 8), rule.clone()).unwrap();
        assert_eq!(s.figures(0).disagreement, 0.0);
        assert_eq!(s.figures(4).majority, 0.0);
    }
}

#[test]
fn an_adversary_blind_to_the_samples_equals_its_brute_force_and_does_less() {
    // Sight::Querier against a brute force over every answer table per
    // (querier, Byzantine node), fixed before the draw.
    let settings = [
        (4, 1, 2, 1, 1, 3),
        (4, 1, 2, 2, 2, 3),
        (4, 2, 2, 1, 1, 3),
        (5, 2, 3, 2, 1, 3),
    ];
    let mut weaker = 0;
    for (n, f, k, alpha, beta, rounds) in settings {
        for rule in [Rule::Slush, Rule::Snowflake] {
            let spec = spec(n, f, k, alpha, beta, rounds);
            let mut full = Solver::new(&spec, rule.clone()).unwrap();
            let mut s = Solver::new(&spec, rule.clone()).unwrap();
            s.sight = Sight::Querier;
            for fig in s.every_split() {
                let what = format!(
                    "{rule:?} n={n} f={f} k={k} alpha={alpha} beta={beta} R={rounds} ones={}",
                    fig.ones
                );
                for v in brute_sight(&s, fig.ones, Score::Disagreement, true) {
                    assert!(
                        (v - fig.disagreement).abs() < 1e-12,
                        "{what}: disagreement {} vs brute {v}",
                        fig.disagreement
                    );
                }
                for v in brute_sight(&s, fig.ones, Score::Majority, true) {
                    assert!(
                        (v - fig.majority).abs() < 1e-12,
                        "{what}: majority {} vs brute {v}",
                        fig.majority
                    );
                }
                let strong = full.figures(fig.ones);
                assert!(fig.disagreement <= strong.disagreement + 1e-12, "{what}");
                assert!(fig.majority <= strong.majority + 1e-12, "{what}");
                weaker += (fig.disagreement < strong.disagreement - 1e-9) as usize;
            }
        }
    }
    // Seeing the samples matters somewhere: the two models differ.
    assert!(weaker > 0);
}

#[test]
fn a_table_rule_is_searched_as_the_engine_plays_it() {
    // Slush written as a table has Slush's figures, under both sights.
    for f in [1, 2] {
        let spec = spec(5, f, 3, 2, 3, 8);
        for sight in [Sight::Samples, Sight::Querier] {
            let mut a = Solver::new(&spec, Rule::Slush).unwrap();
            let mut b = Solver::new(&spec, Rule::Table(slush_table(3, 2, 8))).unwrap();
            a.sight = sight;
            b.sight = sight;
            assert_eq!(a.every_split(), b.every_split(), "f={f} {sight:?}");
        }
    }
    // Random tables (holding in the last round leaves a node undecided):
    // the engine steps as `next` says, and the brute force agrees.
    for seed in 0..4 {
        let spec = spec(4, 1, 2, 1, 1, 3);
        let rule = Rule::Table(random_table(2, 3, seed));
        let mut s = Solver::new(&spec, rule.clone()).unwrap();
        let a = spec.byz_action_len();
        play(&s, &spec, 200, seed, &mut |env, _, rng, byz| {
            for e in 0..env.len() {
                for (bo, _) in env.episode(e).byzantine_ids().enumerate() {
                    for i in 0..4 {
                        byz[e * a + bo * 4 + i] = rng.random_range(0..3u8);
                    }
                }
            }
        });
        for fig in s.every_split() {
            for v in brute_all(&s, fig.ones, Score::Disagreement) {
                assert!(
                    (v - fig.disagreement).abs() < 1e-12,
                    "seed {seed}: {fig:?} vs {v}"
                );
            }
            for v in brute_all(&s, fig.ones, Score::Majority) {
                assert!(
                    (v - fig.majority).abs() < 1e-12,
                    "seed {seed}: {fig:?} vs {v}"
                );
            }
        }
    }
    let other = Solver::new(&spec(5, 1, 3, 2, 3, 8), Rule::Table(slush_table(2, 2, 8)));
    assert!(other.err().unwrap().contains("k = 2 and 8 rounds"));
}

#[test]
fn the_correctness_figure_equals_its_brute_force_under_both_sights() {
    // Every rule kind, and random tables that hold in the last round
    // (termination fails there: the figure must count it).
    let settings = [(4, 1, 2, 1, 1, 3), (4, 2, 2, 1, 1, 3), (5, 1, 3, 2, 2, 3)];
    for (n, f, k, alpha, beta, rounds) in settings {
        let mut rules = vec![Rule::Slush, Rule::Snowflake];
        rules.extend(TRIVIAL.iter().map(|t| Rule::parse(t).unwrap()));
        rules.extend((0..3).map(|seed| Rule::Table(random_table(k, rounds, seed))));
        for rule in rules {
            for blind in [false, true] {
                let spec = spec(n, f, k, alpha, beta, rounds);
                let mut s = Solver::new(&spec, rule.clone()).unwrap();
                if blind {
                    s.sight = Sight::Querier;
                }
                for ones in 0..=s.honest() {
                    let exact = s.score(Score::Correctness, ones);
                    for v in brute_sight(&s, ones, Score::Correctness, blind) {
                        assert!(
                            (v - exact).abs() < 1e-12,
                            "{rule:?} n={n} f={f} blind={blind} ones={ones}: {exact} vs brute {v}"
                        );
                    }
                    // Breaking correctness is at least breaking
                    // agreement, and at most stopping the majority.
                    let d = s.score(Score::Disagreement, ones);
                    let m = s.score(Score::Majority, ones);
                    assert!(d <= exact + 1e-12 && exact <= m + 1e-12, "{rule:?} {ones}");
                }
            }
        }
    }
}

#[test]
fn the_trivial_protocols_have_their_textbook_figures() {
    // n = 5, k = 3, alpha = 2, 8 rounds, inputs uniform. Exact fractions:
    // each figure is a sum of binomial shares of the 2^h input splits.
    // "Always 0" never disagrees, fails validity only on unanimous 1s,
    // and decides the majority exactly when it is 0: 1/2 of the inputs
    // of 3 honest nodes, 5/16 of 4 (the tied 6/16 has no majority).
    // "Own input" disagrees on every split input.
    let want = [
        // (rule, f, disagreement, majority, correctness)
        ("always0", 2, 0.0, 1.0 / 2.0, 1.0 / 8.0),
        ("always0", 1, 0.0, 11.0 / 16.0, 1.0 / 16.0),
        ("always1", 2, 0.0, 1.0 / 2.0, 1.0 / 8.0),
        ("always1", 1, 0.0, 11.0 / 16.0, 1.0 / 16.0),
        ("own_input", 2, 3.0 / 4.0, 3.0 / 4.0, 3.0 / 4.0),
        ("own_input", 1, 7.0 / 8.0, 7.0 / 8.0, 7.0 / 8.0),
    ];
    for (name, f, d, m, c) in want {
        for sight in [Sight::Samples, Sight::Querier] {
            let mut s = Solver::new(&spec(5, f, 3, 2, 3, 8), Rule::parse(name).unwrap()).unwrap();
            s.sight = sight;
            let got = Score::ALL.map(|x| s.uniform_score(x));
            assert_eq!(got, [d, m, c], "{name} f={f} {sight:?}");
        }
    }
    // Scripted Slush and Snowflake do worse than a constant colour on
    // both the majority goal and correctness, in 4 + 1 and in 3 + 2.
    for f in [1, 2] {
        let mut zero =
            Solver::new(&spec(5, f, 3, 2, 3, 8), Rule::parse("always0").unwrap()).unwrap();
        let (zm, zc) = (
            zero.uniform_score(Score::Majority),
            zero.uniform_score(Score::Correctness),
        );
        for rule in [Rule::Slush, Rule::Snowflake] {
            let mut s = Solver::new(&spec(5, f, 3, 2, 3, 8), rule.clone()).unwrap();
            assert!(s.uniform_score(Score::Majority) > zm, "{rule:?} f={f}");
            assert!(s.uniform_score(Score::Correctness) > zc, "{rule:?} f={f}");
        }
    }
}
