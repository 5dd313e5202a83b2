"""PPO on the consensus game from Python, CleanRL style, one file (issue 29).

Two runs, then the exact verifier on what they learned:

1. An honest team learns consensus at n = 3 (experiments/honest_consensus.toml:
   no faults, 2 rounds). One network shared by every agent, its actions
   masked as the environment says; PPO with GAE over each agent's own
   decisions. Its greedy protocol goes to ``selfplay.verify``, which searches
   every input vector exhaustively: verified, or a counterexample.
2. An attacker learns against a frozen protocol, ``majority`` at n = 4, f = 1
   (experiments/majority.toml, scripted, played in Rust): one network
   choosing every Byzantine message head (a factored categorical over
   {0, 1, nothing} per head). Its greedy attack, sampled, is put beside the
   exact optimum ``selfplay.verify`` computes: the share of episodes broken,
   and the instances broken (both sides are deterministic, so an instance
   is broken every time or never) against the optimum's.

    pip install ./python torch
    python examples/python/ppo_honest.py --seed 1

Both run on ``selfplay.consensus_batch``: many episodes stepped in Rust, the
networks in torch. Metric names are CleanRL's (``losses/policy_loss``,
``losses/value_loss``, ``losses/entropy``, ``losses/approx_kl``,
``losses/clipfrac``, ``charts/SPS``), printed every few updates.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

import selfplay

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@dataclass
class Args:
    seed: int = 1
    """seed of numpy, torch and the environments"""
    num_envs: int = 1024
    """episodes per batch (one PPO update per batch)"""
    honest_updates: int = 60
    """PPO updates of the honest team"""
    attacker_updates: int = 80
    """PPO updates of the attacker"""
    learning_rate: float = 3e-3
    """Adam's step size"""
    gamma: float = 1.0
    """discount (episodes last a few rounds)"""
    gae_lambda: float = 0.95
    """GAE's lambda"""
    update_epochs: int = 4
    """passes over each batch"""
    num_minibatches: int = 4
    """minibatches per pass"""
    clip_coef: float = 0.2
    """PPO's clipping of the probability ratio"""
    ent_coef: float = 0.01
    """entropy bonus"""
    vf_coef: float = 0.5
    """value loss weight"""
    max_grad_norm: float = 0.5
    """gradient clipping"""
    hidden: int = 64
    """units of each of the two hidden layers"""
    eval_episodes: int = 20000
    """episodes of the attacker's sampled evaluation"""
    log_every: int = 10
    """print the metrics every this many updates"""


def layer(i, o, std=np.sqrt(2)):
    lin = nn.Linear(i, o)
    nn.init.orthogonal_(lin.weight, std)
    nn.init.constant_(lin.bias, 0.0)
    return lin


class Agent(nn.Module):
    """Actor-critic over a flat observation; ``heads`` categorical heads of
    three classes each, masked (illegal logits set to -1e9)."""

    def __init__(self, obs_size, heads, hidden):
        super().__init__()
        self.heads = heads
        body = lambda out, std: nn.Sequential(  # noqa: E731
            layer(obs_size, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(), layer(hidden, out, std))
        self.critic = body(1, 1.0)
        self.actor = body(3 * heads, 0.01)

    def value(self, x):
        return self.critic(x).squeeze(-1)

    def act(self, x, mask, action=None, greedy=False):
        logits = self.actor(x).view(-1, self.heads, 3)
        logits = torch.where(mask, logits, torch.full_like(logits, -1e9))
        dist = torch.distributions.Categorical(logits=logits)
        if action is None:
            action = logits.argmax(-1) if greedy else dist.sample()
        # Heads with a single legal class carry no choice: no log-prob, no entropy.
        free = mask.sum(-1) > 1
        logp = (dist.log_prob(action) * free).sum(-1)
        ent = (dist.entropy() * free).sum(-1)
        return action, logp, ent, self.value(x)


def ppo_update(agent, opt, b, args):
    """CleanRL's PPO update on the flat batch ``b`` (obs, mask, action,
    logp, adv, ret, value); returns the metrics."""
    size = len(b["obs"])
    clipfracs = []
    for _ in range(args.update_epochs):
        for i in torch.tensor_split(torch.randperm(size), args.num_minibatches):
            _, logp, ent, v = agent.act(b["obs"][i], b["mask"][i], b["action"][i])
            ratio = (logp - b["logp"][i]).exp()
            with torch.no_grad():
                old_approx_kl = (-(logp - b["logp"][i])).mean()
                approx_kl = ((ratio - 1) - (logp - b["logp"][i])).mean()
                clipfracs.append(((ratio - 1).abs() > args.clip_coef).float().mean().item())
            adv = b["adv"][i]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
            v_loss = 0.5 * ((v - b["ret"][i]) ** 2).mean()
            loss = pg_loss - args.ent_coef * ent.mean() + args.vf_coef * v_loss
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            opt.step()
    y, pred = b["ret"].numpy(), b["value"].numpy()
    var = np.var(y)
    return {
        "losses/policy_loss": pg_loss.item(),
        "losses/value_loss": v_loss.item(),
        "losses/entropy": ent.mean().item(),
        "losses/old_approx_kl": old_approx_kl.item(),
        "losses/approx_kl": approx_kl.item(),
        "losses/clipfrac": float(np.mean(clipfracs)),
        "losses/explained_variance": float("nan") if var == 0 else float(1 - np.var(y - pred) / var),
    }


def gae(rewards, values, acting, args):
    """Advantages and returns per decision of every agent. ``rewards[t]``
    is what each agent was paid at step ``t``, ``acting[t]`` whether it
    decided then. An agent's reward after its last decision (the end
    reward, paid when the episode ends) is its last decision's; between
    two of its decisions, rewards add up to the earlier one's."""
    T = len(rewards)
    adv = [np.zeros_like(r) for r in rewards]
    next_value = np.zeros_like(rewards[0])
    next_adv = np.zeros_like(rewards[0])
    carried = np.zeros_like(rewards[0])  # rewards since this agent's next decision
    for t in reversed(range(T)):
        carried = carried + rewards[t]
        a = acting[t]
        delta = carried + args.gamma * next_value - values[t]
        now = delta + args.gamma * args.gae_lambda * next_adv
        adv[t] = np.where(a, now, 0.0)
        next_adv = np.where(a, now, next_adv)
        next_value = np.where(a, values[t], next_value)
        carried = np.where(a, 0.0, carried)
    return adv, [adv[t] + values[t] for t in range(T)]


def train_honest(args):
    """PPO for the honest team of honest_consensus.toml; returns the agent."""
    env = selfplay.consensus_batch(EXPERIMENTS / "honest_consensus.toml", num_envs=args.num_envs)
    agent = Agent(env.obs_size, 1, args.hidden)
    opt = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    env.reset(seed=args.seed)
    start, steps = time.time(), 0
    for update in range(1, args.honest_updates + 1):
        env.reset()
        view = env.observe()
        rec = {k: [] for k in ("obs", "mask", "action", "logp", "value", "acting", "reward")}
        while not view["over"].all():
            obs = torch.from_numpy(view["honest_obs"])
            mask = torch.from_numpy(view["honest_mask"]).unsqueeze(-2)
            with torch.no_grad():
                action, logp, _, value = agent.act(obs.view(-1, env.obs_size), mask.view(-1, 1, 3))
            action = action.view(env.num_envs, env.n)
            hr, _, _ = env.step(action.numpy().astype(np.uint8), None)
            for k, x in (("obs", obs), ("mask", mask), ("action", action), ("logp", logp.view(action.shape)),
                         ("value", value.view(action.shape)), ("acting", view["acting"]), ("reward", hr)):
                rec[k].append(x)
            steps += int(view["acting"].sum())
            view = env.observe()
        values = [v.numpy() for v in rec["value"]]
        adv, ret = gae(rec["reward"], values, rec["acting"], args)
        keep = torch.from_numpy(np.stack(rec["acting"]).reshape(-1))
        flat = lambda xs, *shape: torch.as_tensor(np.stack([np.asarray(x) for x in xs])).reshape(-1, *shape)[keep]  # noqa: E731
        batch = {
            "obs": flat(rec["obs"], env.obs_size).float(),
            "mask": flat(rec["mask"], 1, 3),
            "action": flat(rec["action"], 1),
            "logp": flat(rec["logp"]),
            "value": flat(values),
            "adv": flat(adv).float(),
            "ret": flat(ret).float(),
        }
        metrics = ppo_update(agent, opt, batch, args)
        if update % args.log_every == 0 or update == args.honest_updates:
            wins = env.outcome()["honest_wins"].mean()
            print(f"honest update {update}: charts/honest_wins={wins:.3f} charts/SPS={int(steps / (time.time() - start))} "
                  + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return agent, env


def greedy_protocol(agent, rounds):
    """The honest team's greedy protocol over one-hot views, as
    ``selfplay.verify`` calls it: the round is one-hot after the input's
    two entries; sending is illegal in the last round, as the env masks it."""

    def protocol(obs):
        last = obs[2 + rounds - 1] == 1
        mask = torch.tensor([[[not last, True, True]]])
        with torch.no_grad():
            a, *_ = agent.act(torch.as_tensor(obs).view(1, -1), mask, greedy=True)
        return int(a.item())

    return protocol


def train_attacker(args):
    """PPO for the adversary against scripted majority at n = 4, f = 1."""
    sets = ["env.n=4", "byzantine.kind=learned", "train.episodes=1000"]
    env = selfplay.consensus_batch(EXPERIMENTS / "majority.toml", set=sets, num_envs=args.num_envs)
    heads = env.adversary_action_len
    agent = Agent(env.adversary_obs_size, heads, args.hidden)
    opt = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    env.reset(seed=args.seed + 1000)
    start, steps = time.time(), 0
    for update in range(1, args.attacker_updates + 1):
        env.reset()
        view = env.observe()
        rec = {k: [] for k in ("obs", "mask", "action", "logp", "value", "acting", "reward")}
        while not view["over"].all():
            obs = torch.from_numpy(view["adversary_obs"])
            mask = torch.from_numpy(view["adversary_mask"])
            live = ~view["over"] & mask.any(-1).any(-1).numpy()
            # A head with no legal class (an episode over) is left as "nothing".
            safe = mask | ~mask.any(-1, keepdim=True)
            with torch.no_grad():
                action, logp, _, value = agent.act(obs, safe)
            _, ar, _ = env.step(None, action.numpy().astype(np.uint8))
            for k, x in (("obs", obs), ("mask", safe), ("action", action), ("logp", logp), ("value", value),
                         ("acting", live), ("reward", ar)):
                rec[k].append(x)
            steps += int(live.sum())
            view = env.observe()
        values = [v.numpy() for v in rec["value"]]
        adv, ret = gae(rec["reward"], values, rec["acting"], args)
        keep = torch.from_numpy(np.stack(rec["acting"]).reshape(-1))
        flat = lambda xs, *shape: torch.as_tensor(np.stack([np.asarray(x) for x in xs])).reshape(-1, *shape)[keep]  # noqa: E731
        batch = {
            "obs": flat(rec["obs"], env.adversary_obs_size).float(),
            "mask": flat(rec["mask"], heads, 3),
            "action": flat(rec["action"], heads),
            "logp": flat(rec["logp"]),
            "value": flat(values),
            "adv": flat(adv).float(),
            "ret": flat(ret).float(),
        }
        metrics = ppo_update(agent, opt, batch, args)
        if update % args.log_every == 0 or update == args.attacker_updates:
            rate = 1 - env.outcome()["honest_wins"].mean()
            print(f"attacker update {update}: charts/attack_rate={rate:.3f} charts/SPS={int(steps / (time.time() - start))} "
                  + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return agent, env, sets


def attack_rate(agent, env, episodes):
    """The greedy attacker's sampled attack rate (episodes it broke), and
    the instances it breaks: the greedy attacker and majority are both
    deterministic, so each instance (placement, honest inputs) is broken
    every time or never; with thousands of episodes every one of the
    instances is met."""
    broken = total = 0
    by_instance = {}
    while total < episodes:
        env.reset()
        view = env.observe()
        followers, inputs = view["followers"].copy(), view["honest_obs"][:, :, 1].copy()
        while not view["over"].all():
            mask = torch.from_numpy(view["adversary_mask"])
            safe = mask | ~mask.any(-1, keepdim=True)
            with torch.no_grad():
                action, *_ = agent.act(torch.from_numpy(view["adversary_obs"]), safe, greedy=True)
            env.step(None, action.numpy().astype(np.uint8))
            view = env.observe()
        lost = ~env.outcome()["honest_wins"]
        for e in range(env.num_envs):
            key = (followers[e].tobytes(), (inputs[e] * followers[e]).tobytes())
            by_instance.setdefault(key, set()).add(bool(lost[e]))
        broken += int(lost.sum())
        total += env.num_envs
    assert all(len(v) == 1 for v in by_instance.values()), "a greedy attack on majority is deterministic"
    return broken / total, sum(True in v for v in by_instance.values()), len(by_instance)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, field in Args.__dataclass_fields__.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(field.default), default=field.default)
    p.add_argument("--json", action="store_true", help="print the verdicts as one JSON line at the end")
    ns = p.parse_args()
    args = Args(**{k: v for k, v in vars(ns).items() if k != "json"})
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)

    honest, env = train_honest(args)
    report = selfplay.verify(EXPERIMENTS / "honest_consensus.toml", protocol=greedy_protocol(honest, env.rounds))
    print(f"honest protocol: verified={report['verified']} optimal_attack_rate={report['optimal_attack_rate']} "
          f"({report['broken_instances']} of {report['instances']} instances broken)")
    if report["counterexample_text"]:
        print(report["counterexample_text"])

    attacker, aenv, sets = train_attacker(args)
    learned, broken, seen = attack_rate(attacker, aenv, args.eval_episodes)
    exact = selfplay.verify(EXPERIMENTS / "majority.toml", set=["env.n=4"])
    print(f"attacker vs majority, n=4 f=1: greedy attack rate {learned:.4f} over {args.eval_episodes} "
          f"episodes, {broken} of {seen} instances broken; exact optimum {exact['optimal_attack_rate']:.4f} "
          f"({exact['broken_instances']} of {exact['instances']})")
    if ns.json:
        print(json.dumps({"seed": args.seed, "honest_verified": report["verified"],
                          "honest_optimal_attack_rate": report["optimal_attack_rate"],
                          "attack_rate": learned, "attacker_broken_instances": broken,
                          "instances_seen": seen, "optimal_attack_rate": exact["optimal_attack_rate"],
                          "optimal_broken_instances": exact["broken_instances"],
                          "instances": exact["instances"]}))


if __name__ == "__main__":
    main()
