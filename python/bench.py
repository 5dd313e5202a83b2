"""Agent-steps per second of every game from Python, beside the Rust
engine's own rate (docs/speed.md, "From Python").

    python python/bench.py                          # print the table
    python python/bench.py --update docs/speed.md   # write it into the page

An agent-step is one decision of one agent: an acting honest agent's
action, or the adversary's move in an episode where it moves (the whole
team is one agent: its action of the consensus game, its answers of a
sampling-game round, one level of a reliable-broadcast move). Three rates
per game, each with uniformly random legal actions:

- batched: ``observe()`` then ``step()`` on ``num_envs`` episodes, the
  actions drawn with numpy from the masks (no Python loop over agents);
- ParallelEnv: ``env.step`` of the PettingZoo environment, one episode,
  the actions drawn per agent from its mask;
- Rust engine: the same engine stepped by a Rust loop (``_engine_rate``),
  the actions drawn in Rust, no Python in the loop.

Every figure is one thread of this machine as it is (other work on it
shows); the page records the date, the CPU and the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

# Run as a script, python/ is first on the path, and its selfplay/ is the
# source without the extension: the installed package is the one to time.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
import selfplay  # noqa: E402
from selfplay._selfplay import _engine_rate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"

# (label, experiment, overrides): both teams played from Python.
GAMES = [
    ("consensus, n=3 f=1 (cotrain.toml)", "cotrain.toml", []),
    ("consensus, n=4 f=1 pki", "cotrain.toml", ["env.n=4", 'env.identity="pki"', "env.rounds=3"]),
    ("sampling, n=5 f=1 k=3 (slush_cotrain.toml)", "slush_cotrain.toml", []),
    ("reliable broadcast, n=4 f=1 (rb_learn.toml)", "rb_learn.toml", []),
]

BEGIN, END = "<!-- python/bench.py: begin -->", "<!-- python/bench.py: end -->"


def masked_choice(rng, mask):
    """A uniform legal class per row of a boolean mask (..., k); 0 where none is."""
    return (rng.random(mask.shape) * mask).argmax(axis=-1).astype(np.uint8)


def batched(game, file, sets, num_envs, seconds):
    """Agent-steps per second through the batched interface."""
    make = {"consensus": selfplay.consensus_batch, "slush": selfplay.slush_batch,
            "reliable_broadcast": selfplay.broadcast_batch}[game]
    b = make(EXPERIMENTS / file, set=sets, num_envs=num_envs)
    rng = np.random.default_rng(1)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        b.reset()
        view = b.observe()
        while not view["over"].all():
            h = masked_choice(rng, view["honest_mask"])
            a = masked_choice(rng, view["adversary_mask"])
            if game == "consensus":
                steps += int(view["acting"].sum()) + int((~view["over"]).sum())
                b.step(h, a)
            elif game == "slush":
                if b.phase == "answer":
                    steps += int(view["adversary_mask"].any(axis=(1, 2)).sum())
                    b.step(None, a)
                else:
                    steps += int(view["acting"].sum())
                    b.step(h, None)
            else:
                steps += int(view["acting"].sum()) + int(view["adversary_turn"].sum())
                b.step(h, a)
            view = b.observe()
    return steps / (time.perf_counter() - start)


def parallel(file, sets, seconds):
    """Agent-steps per second through ``ParallelEnv.step``."""
    env = selfplay.make_env(EXPERIMENTS / file, set=sets)
    rng = np.random.default_rng(1)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        obs, infos = env.reset()
        while env.agents:
            actions = {}
            for agent in env.agents:
                mask = np.asarray(obs[agent]["action_mask"]).astype(bool)
                if not mask.any():
                    continue
                steps += 1
                a = masked_choice(rng, mask)
                actions[agent] = int(a) if a.ndim == 0 else a
            obs, *_ = env.step(actions)
    return steps / (time.perf_counter() - start)


def engine(file, sets, num_envs, seconds):
    steps, _, secs = _engine_rate(str(EXPERIMENTS / file), sets, num_envs, seconds)
    return steps / secs


def fmt(rate):
    return f"{rate / 1e6:.2f} M" if rate >= 1e6 else f"{rate / 1e3:.0f} k"


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(num_envs, seconds):
    rows = []
    for label, file, sets in GAMES:
        game = selfplay._selfplay._game_of(str(EXPERIMENTS / file), sets)
        rows.append((label, batched(game, file, sets, num_envs, seconds),
                     parallel(file, sets, seconds), engine(file, sets, num_envs, seconds)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out = [
        BEGIN,
        f"_Generated by `python python/bench.py --num-envs {num_envs} --seconds {seconds:g} "
        f"--update docs/speed.md` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{cpu()}, {os.cpu_count()} cores, load average {load:.1f} at the end; "
        "one thread each, random legal actions._",
        "",
        f"| agent-steps per second | batched ({num_envs} episodes) | `ParallelEnv.step` | Rust engine |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {label} | {fmt(b)} | {fmt(p)} | {fmt(e)} |" for label, b, p, e in rows]
    out.append(END)
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num-envs", type=int, default=4096, help="episodes of the batched interface")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per figure")
    p.add_argument("--update", type=Path, help="write the table into this page between its markers")
    args = p.parse_args()
    text = table(args.num_envs, args.seconds)
    if args.update is None:
        print(text, end="")
        return
    page = args.update.read_text()
    if BEGIN in page:
        page = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END) + "\n", lambda _: text, page, flags=re.S)
    else:
        page = page.rstrip("\n") + "\n\n" + text
    args.update.write_text(page)


if __name__ == "__main__":
    main()
