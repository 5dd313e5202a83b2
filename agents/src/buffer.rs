//! Steps of many trajectories, stored flat in the order they were taken, and
//! the advantage estimates a learner trains on. Knows nothing of consensus.

/// No next step: the trajectory ended.
pub const END: u32 = u32::MAX;

/// Every step: observation, per-head action mask and action, the behaviour
/// policy's log-probability and value estimate, the reward that followed.
#[derive(Clone, Debug, Default)]
pub struct Buffer {
    pub obs_dim: usize,
    pub heads: usize,
    pub obs: Vec<f32>,
    /// Per head, bit `c` set: class `c` allowed.
    pub masks: Vec<u8>,
    pub actions: Vec<u32>,
    pub logp: Vec<f32>,
    pub values: Vec<f32>,
    pub rewards: Vec<f32>,
    /// Index of the same trajectory's next step, or [`END`].
    pub next: Vec<u32>,
    /// Per trajectory id, its latest step (or [`END`]).
    last: Vec<u32>,
}

impl Buffer {
    pub fn new(obs_dim: usize, heads: usize) -> Buffer {
        Buffer {
            obs_dim,
            heads,
            ..Buffer::default()
        }
    }

    pub fn len(&self) -> usize {
        self.logp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.logp.is_empty()
    }

    pub fn clear(&mut self) {
        let (obs_dim, heads) = (self.obs_dim, self.heads);
        *self = Buffer::new(obs_dim, heads);
    }

    /// Appends a step of trajectory `traj`.
    pub fn push(
        &mut self,
        traj: usize,
        obs: &[f32],
        mask: &[u8],
        actions: &[u32],
        logp: f32,
        value: f32,
    ) {
        let t = self.len() as u32;
        if traj >= self.last.len() {
            self.last.resize(traj + 1, END);
        }
        if self.last[traj] != END {
            self.next[self.last[traj] as usize] = t;
        }
        self.last[traj] = t;
        self.obs.extend_from_slice(obs);
        self.masks.extend_from_slice(mask);
        self.actions.extend_from_slice(actions);
        self.logp.push(logp);
        self.values.push(value);
        self.rewards.push(0.0);
        self.next.push(END);
    }

    /// Adds `reward` to the last step of trajectory `traj`, if it took any.
    pub fn reward_last(&mut self, traj: usize, reward: f32) {
        if let Some(&t) = self.last.get(traj) {
            if t != END {
                self.rewards[t as usize] += reward;
            }
        }
    }

    /// Per step, whether it starts a trajectory (no other step leads to it).
    pub fn starts(&self) -> Vec<bool> {
        let mut starts = vec![true; self.len()];
        for &s in &self.next {
            if s != END {
                starts[s as usize] = false;
            }
        }
        starts
    }

    /// Generalised advantage estimates and the returns they imply
    /// (`advantage + value`). With `lambda = 1` the advantage is the Monte
    /// Carlo return minus the baseline, REINFORCE's.
    pub fn advantages(&self, gamma: f32, lambda: f32) -> (Vec<f32>, Vec<f32>) {
        let n = self.len();
        let mut adv = vec![0.0f32; n];
        // A step's successor always comes later, so one backward sweep suffices.
        for t in (0..n).rev() {
            let (next_value, next_adv) = match self.next[t] {
                END => (0.0, 0.0),
                s => (self.values[s as usize], adv[s as usize]),
            };
            let delta = self.rewards[t] + gamma * next_value - self.values[t];
            adv[t] = delta + gamma * lambda * next_adv;
        }
        let returns = adv.iter().zip(&self.values).map(|(a, v)| a + v).collect();
        (adv, returns)
    }

    /// Each step's return: the rewards from it to its trajectory's end,
    /// discounted by `gamma` (no value estimate enters).
    pub fn returns(&self, gamma: f32) -> Vec<f32> {
        let mut ret = vec![0.0f32; self.len()];
        for t in (0..self.len()).rev() {
            let next = match self.next[t] {
                END => 0.0,
                s => ret[s as usize],
            };
            ret[t] = self.rewards[t] + gamma * next;
        }
        ret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_trajectories_get_their_own_advantages() {
        let mut b = Buffer::new(1, 1);
        // Trajectories 0 and 1 interleaved, as rounds of a batch are.
        b.push(0, &[0.0], &[7], &[0], 0.0, 0.5);
        b.push(1, &[0.0], &[7], &[0], 0.0, 0.25);
        b.push(0, &[0.0], &[7], &[1], 0.0, 0.75);
        b.reward_last(0, 1.0);
        b.reward_last(1, -1.0);
        assert_eq!(b.next, vec![2, END, END]);
        let (adv, ret) = b.advantages(1.0, 1.0);
        // Monte Carlo: every step of trajectory 0 returns 1, of trajectory 1, -1.
        assert_eq!(ret, vec![1.0, -1.0, 1.0]);
        assert_eq!(adv, vec![0.5, -1.25, 0.25]);
        let (adv, _) = b.advantages(1.0, 0.5);
        // delta_0 = 0.75 - 0.5 = 0.25, delta_2 = 1 - 0.75 = 0.25: 0.25 + 0.5 * 0.25.
        assert_eq!(adv[0], 0.375);
        // Returns alone, no value estimate: discounted along each trajectory.
        assert_eq!(b.returns(1.0), vec![1.0, -1.0, 1.0]);
        assert_eq!(b.returns(0.5), vec![0.5, -1.0, 1.0]);
    }
}
