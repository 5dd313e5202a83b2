//! A round in two halves, for an adversary that answers every query on its
//! own (the learned one, `src/games/snowball/learned.rs`): [`Batch::poll`]
//! draws every undecided honest node's sample, [`Batch::queries`] lists
//! the queries that reached a Byzantine peer with a view of each
//! ([`VIEW`] numbers, the same for every `n`), and [`Batch::answer`] takes
//! one answer a query and ends the round.
//!
//! The draws are those of a scripted round, in the same order from the same
//! streams: answering every query [`SILENT`] plays exactly the episodes of
//! `Adversary::Silent` (tested).
//!
//! The view is the querier's and the network's state in the querier's
//! frame (colour "mine" is the querier's preference, so one answer rule
//! serves both colours), as counts made fractions (the split centred on
//! one half and stretched ten times, in [-1, 1]): what the paper's
//! adversary with knowledge of the network's state could know, and the
//! Byzantine peers the querier drew (they answer together).

use super::adversary::draw;
use super::batch::{close, decide, Batch, Episode, Node};
use super::SnowballSpec;
use rayon::prelude::*;

/// Numbers in a query's view.
pub const VIEW: usize = 17;
/// Answers: every Byzantine peer of the query answers the querier's
/// preference, the other colour, or nothing.
pub const MINE: u32 = 0;
pub const OTHER: u32 = 1;
pub const SILENT: u32 = 2;
/// Streak buckets in the view, per streak colour.
const BUCKETS: usize = 4;

/// The round in progress: each honest node's drawn sample, and the queries
/// that reached a Byzantine peer.
#[derive(Default)]
pub struct Polls {
    /// Per honest node (episode-major): peers preferring 0, preferring 1,
    /// Byzantine; meaningful for the nodes that polled this round.
    drawn: Vec<[u32; 3]>,
    /// Per episode: its first query's index in `queries`, then the end.
    starts: Vec<usize>,
    queries: Vec<Query>,
    /// Per episode: undecided honest nodes per (streak colour, bucket) at
    /// the start of the round.
    streaks: Vec<[[u32; BUCKETS]; 2]>,
}

/// A query that reached `byz` Byzantine peers: honest node `node` of
/// episode `episode` polling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub episode: u32,
    pub node: u32,
    pub byz: u32,
}

/// The bytes [`Polls`] holds for a batch of `episodes` episodes of `spec`
/// (at most every honest node queries).
pub fn polls_bytes(spec: &SnowballSpec, episodes: usize) -> f64 {
    let per_node = std::mem::size_of::<[u32; 3]>() + std::mem::size_of::<Query>();
    episodes as f64 * (spec.h as f64 * per_node as f64 + 64.0)
}

/// The streak bucket of a streak of `cnt >= 1` polls out of `beta`.
fn bucket(cnt: u32, beta: u32) -> usize {
    ((4 * cnt.max(1) - 1) / beta.max(1)).min(BUCKETS as u32 - 1) as usize
}

impl Batch {
    /// The first half of a round: every undecided honest node of every
    /// episode not over draws its sample (as a scripted round does, in the
    /// same order). Then [`Batch::queries`] and [`Batch::answer`].
    pub fn poll(&mut self) {
        let spec = self.spec;
        let h = spec.h as usize;
        let p = &mut self.polls;
        p.drawn.resize(self.nodes.len(), [0; 3]);
        p.streaks.resize(self.eps.len(), [[0; BUCKETS]; 2]);
        let mut found: Vec<Vec<Query>> = self
            .nodes
            .par_chunks(h)
            .zip(p.drawn.par_chunks_mut(h))
            .zip(self.eps.par_iter_mut())
            .zip(p.streaks.par_iter_mut())
            .enumerate()
            .map(|(e, (((nodes, drawn), ep), streaks))| {
                poll_episode(&spec, e as u32, nodes, drawn, ep, streaks)
            })
            .collect();
        p.queries.clear();
        p.starts.clear();
        for q in &mut found {
            p.starts.push(p.queries.len());
            p.queries.append(q);
        }
        p.starts.push(p.queries.len());
    }

    /// The queries of the round in progress that reached a Byzantine peer,
    /// episode by episode, nodes in order.
    pub fn queries(&self) -> &[Query] {
        &self.polls.queries
    }

    /// The views of [`Batch::queries`], [`VIEW`] numbers each, into `out`.
    pub fn views(&self, out: &mut Vec<f32>) {
        out.clear();
        out.resize(self.polls.queries.len() * VIEW, 0.0);
        let s = &self.spec;
        let h = s.h as usize;
        for (q, v) in self.polls.queries.iter().zip(out.chunks_exact_mut(VIEW)) {
            let (e, i) = (q.episode as usize, q.node as usize);
            let ep = &self.eps[e];
            let node = &self.nodes[e * h + i];
            let mine = node.pref as usize;
            let frac = |x: u32| x as f32 / s.h as f32;
            let prefer = [s.h - ep.ones, ep.ones];
            v[0] = q.byz as f32 / s.k as f32;
            v[1] = node.cnt as f32 / s.beta as f32;
            v[2] = f32::from(node.last as usize == mine);
            v[3] =
                (node.d[mine].saturating_sub(node.d[1 - mine])).min(s.beta) as f32 / s.beta as f32;
            // The split, centred and stretched: the answer that evens it
            // turns on its sign, and near an even split it moves by
            // hundredths.
            v[4] = (10.0 * (frac(prefer[mine]) - 0.5)).clamp(-1.0, 1.0);
            v[5] = frac(ep.decided[mine]);
            v[6] = frac(ep.decided[1 - mine]);
            let streaks = &self.polls.streaks[e];
            for b in 0..BUCKETS {
                v[7 + b] = frac(streaks[mine][b]);
                v[7 + BUCKETS + b] = frac(streaks[1 - mine][b]);
            }
            v[15] = ep.round as f32 / s.rounds as f32;
            v[16] = s.f as f32 / s.n as f32;
        }
    }

    /// The second half of a round: `answers[q]` ([`MINE`], [`OTHER`] or
    /// [`SILENT`]) for query `q` of [`Batch::queries`]; every polling node
    /// records its poll, and the round ends.
    pub fn answer(&mut self, answers: &[u32]) {
        let spec = self.spec;
        let h = spec.h as usize;
        let p = &self.polls;
        assert_eq!(answers.len(), p.queries.len(), "one answer a query");
        self.nodes
            .par_chunks_mut(h)
            .zip(p.drawn.par_chunks(h))
            .zip(self.eps.par_iter_mut())
            .enumerate()
            .filter(|(_, (_, ep))| !ep.over)
            .for_each(|(e, ((nodes, drawn), ep))| {
                let mine = &answers[p.starts[e]..p.starts[e + 1]];
                answer_episode(&spec, nodes, drawn, ep, mine)
            });
    }

    /// Episode `e`'s round counter.
    pub fn round_of(&self, e: usize) -> u32 {
        self.eps[e].round
    }
}

fn poll_episode(
    spec: &SnowballSpec,
    e: u32,
    nodes: &[Node],
    drawn: &mut [[u32; 3]],
    ep: &mut Episode,
    streaks: &mut [[u32; BUCKETS]; 2],
) -> Vec<Query> {
    let mut queries = vec![];
    *streaks = [[0; BUCKETS]; 2];
    if ep.over {
        return queries;
    }
    let ones = ep.ones;
    let zeros = spec.h - ones;
    for (i, (node, got)) in nodes.iter().zip(drawn.iter_mut()).enumerate() {
        if node.decided {
            continue;
        }
        if node.cnt > 0 {
            streaks[node.last as usize][bucket(node.cnt, spec.beta)] += 1;
        }
        let (z, o) = match node.pref {
            0 => (zeros - 1, ones),
            _ => (zeros, ones - 1),
        };
        *got = draw(spec.k, z, o, spec.f, &mut ep.rng);
        if got[2] > 0 {
            queries.push(Query {
                episode: e,
                node: i as u32,
                byz: got[2],
            });
        }
    }
    queries
}

fn answer_episode(
    spec: &SnowballSpec,
    nodes: &mut [Node],
    drawn: &[[u32; 3]],
    ep: &mut Episode,
    answers: &[u32],
) {
    let mut next = answers.iter();
    let mut now_ones = ep.ones;
    for (node, got) in nodes.iter_mut().zip(drawn).filter(|(n, _)| !n.decided) {
        ep.polls += 1;
        let own = node.pref;
        let mut votes = [got[0], got[1]];
        if got[2] > 0 {
            match *next.next().expect("an answer for every query") {
                MINE => votes[own as usize] += got[2],
                OTHER => votes[1 - own as usize] += got[2],
                _ => {}
            }
        }
        decide(spec, node, votes, own, &mut now_ones, &mut ep.decided);
    }
    close(spec, ep, now_ones);
}
