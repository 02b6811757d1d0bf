"""The numbers of one `python -m bench` run, the targets judged on them, and their table and plot."""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

A5 = "bootstrap 5 hosts: (a) swarmops site.yml"
B5 = "bootstrap 5 hosts: (b) bare SSH script"
C5 = "bootstrap 5 hosts: (c) community.docker"
RERUN = "converged re-run of site.yml"
CHECK = "--check run of site.yml (converged)"
SSH_A5 = "SSH executions, bootstrap 5 hosts: (a) site.yml"
SSH_RERUN = "SSH executions, converged re-run 5 hosts"


@dataclass
class Metric:
    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        return max(self.samples) - min(self.samples)


@dataclass
class Results:
    metrics: dict[str, Metric] = field(default_factory=dict)
    profiles: dict[str, list[list[dict]]] = field(default_factory=lambda: defaultdict(list))
    meta: dict = field(default_factory=dict)

    def add(self, name: str, value: float, unit: str = "s", changed: int | None = None) -> None:
        metric = self.metrics.setdefault(name, Metric(name, unit))
        metric.samples.append(value)
        if changed is not None:
            metric.changed.append(changed)
        shown = f"{value:.2f} {unit}".strip() + (f", changed={changed}" if changed is not None else "")
        print(f"  {name}: {shown}", flush=True)

    def add_profile(self, name: str, tasks: list[dict]) -> None:
        self.profiles[name].append(tasks)

    def get(self, name: str) -> Metric | None:
        return self.metrics.get(name)


@dataclass
class Target:
    what: str
    measured: str
    per_rep: str
    met: bool


def _ratio(results: Results, top: str, bottom: str) -> tuple[float, list[float]] | None:
    a, b = results.get(top), results.get(bottom)
    if not a or not b:
        return None
    return a.median / b.median, [x / y for x, y in zip(a.samples, b.samples, strict=False)]


def targets(results: Results) -> list[Target]:
    out: list[Target] = []

    def ratio_target(what: str, top: str, bottom: str, bound: float, at_most: bool = True,
                     extra_ok: bool = True, extra: str = "") -> None:
        r = _ratio(results, top, bottom)
        if r is None:
            return
        value, reps = r
        met = (value <= bound if at_most else value >= bound) and extra_ok
        out.append(Target(what, f"{value:.2f}{extra}", ", ".join(f"{x:.2f}" for x in reps), met))

    ratio_target("bootstrap (a) swarmops / (b) bare script <= 1.5", A5, B5, 1.5)
    ratio_target("bootstrap (c) community.docker / (a) swarmops >= 1.25", C5, A5, 1.25, at_most=False)
    rerun = results.get(RERUN)
    if rerun:
        changed_ok = all(c == 0 for c in rerun.changed)
        ratio_target("converged re-run / bootstrap (a) <= 0.25, with changed=0", RERUN, A5, 0.25,
                     extra_ok=changed_ok, extra=f", changed={'/'.join(map(str, rerun.changed))}")
    check = results.get(CHECK)
    if check:
        changed_ok = all(c == 0 for c in check.changed)
        ratio_target("--check on the converged cluster / bootstrap (a) <= 0.25, with changed=0", CHECK, A5, 0.25,
                     extra_ok=changed_ok, extra=f", changed={'/'.join(map(str, check.changed))}")
    # 5 swarm hosts: at most 2 each and 2 more on one manager for a re-run, 6 each for a bootstrap.
    for name, bound in ((SSH_RERUN, 2 * 5 + 2), (SSH_A5, 6 * 5)):
        m = results.get(name)
        if m:
            out.append(Target(f"{name} <= {bound}", f"{m.median:.0f}", ", ".join(f"{x:.0f}" for x in m.samples),
                              m.median <= bound))
    ratio_target("bootstrap 50 hosts / 5 hosts (a) <= 6", "bootstrap 50 hosts: (a) swarmops site.yml", A5, 6.0)
    ratio_target("converged re-run 50 hosts / 5 hosts <= 4", "converged re-run, 50 hosts", RERUN, 4.0)
    for k in (1, 5, 20):
        ratio_target(f"drain {k} task(s): swarm_node with wait / engine's drain <= 1.2",
                     f"drain {k} task(s): swarm_node with wait", f"drain {k} task(s): engine's drain + polling script",
                     1.2)
    for hosts, bound in ((5, 15.0), (20, 45.0)):
        m = results.get(f"lab up, {hosts} hosts")
        if m:
            out.append(Target(f"lab up, {hosts} hosts <= {bound:.0f} s", f"{m.median:.2f} s",
                              ", ".join(f"{x:.2f}" for x in m.samples), m.median <= bound))
    return out


def cell(text: str) -> str:
    """Text for a markdown table cell (a play named "Preflight | hosts" would split it)."""
    return text.replace("|", "\\|")


def _profile_lines(name: str, runs: list[list[dict]], top: int = 12) -> list[str]:
    per_task: dict[tuple[str, str], list[float]] = defaultdict(list)
    order: list[tuple[str, str]] = []
    for tasks in runs:
        seen: dict[tuple[str, str], float] = defaultdict(float)
        for t in tasks:
            key = (t["play"], t["task"])
            if key not in order:
                order.append(key)
            seen[key] += t["seconds"]
        for key, seconds in seen.items():
            per_task[key].append(seconds)
    ranked = sorted(order, key=lambda key: -statistics.median(per_task[key]))[:top]
    total = statistics.median(sum(t["seconds"] for t in tasks) for tasks in runs)
    lines = [f"**{name}** (median over {len(runs)} run(s); all tasks together {total:.1f} s; "
             f"the {len(ranked)} slowest):", "", "| play | task | median s |", "|---|---|---|"]
    lines += [f"| {cell(play)} | {cell(task)} | {statistics.median(per_task[(play, task)]):.2f} |"
              for play, task in ranked]
    return [*lines, ""]


METHOD = [
    "## How it is measured",
    "",
    "- Every bootstrap starts from a fresh lab whose engines run with the daemon.json the docker_engine "
    "role writes (set over SSH before the clock starts, for every contender alike) and no swarm. Each "
    "contender must leave the same cluster, checked after each run: every node ready with its labels "
    "(`bench.zone=lab`, workers also `bench.tier=app`), service `web` with 3 running tasks, the "
    "SWARMOPS-INPUT chain on every host.",
    "- (a) `ansible-playbook site.yml` with `bench/inventory/group_vars` (the lab's settings, one "
    "3-replica service, labels): preflight, engine, firewall, cluster, services layers.",
    "- (b) `bench/bare_bootstrap.sh`: the firewall chain on all hosts at once (iptables-restore), "
    "`docker swarm init`, managers joined one at a time, workers in parallel, labels, `docker service "
    "create` and a 0.1 s poll until 3 tasks run; one SSH connection per step, no multiplexing.",
    "- (c) `bench/community_docker.yml` with the `ansible` package (community.docker) from a virtualenv "
    "of its own: docker_swarm, docker_node, docker_swarm_service; the firewall and the wait for the "
    "tasks as one shell call each (the cheapest an operator would write).",
    "- Ansible runs use the project's ansible.cfg (pipelining, ControlPersist) with a control-socket "
    "folder of their own, so each pays for its SSH connections as a first run does.",
    "- Drain: k tasks placed on worker1 (the other nodes paused meanwhile), then worker1 drained until "
    "every task runs elsewhere and none still runs on it: `swarm_node` (availability=drain, wait) timed "
    "by the bench_timer callback from task start to result (the connection included), against "
    "`docker node update --availability drain` plus a shell loop polling `docker service ps` every "
    "0.1 s on the manager, timed around its one SSH call. The order alternates by repetition.",
    "- One module call: 11 calls in a playbook on manager1, the first (which opens the connection) "
    "dropped, the median of the others. Controller memory: the PSS and RSS of ansible-playbook and all "
    "its descendants, sampled every 0.1 s; controller CPU: user+system seconds of the run's process tree.",
]


def write_report(results: Results, path: Path) -> list[tuple[str, bool]]:
    meta = results.meta
    judged = targets(results)
    load = " to ".join(f"{x:.1f}" for x in meta.get("load", ()))
    reps = f"{meta.get('reps')}"
    lines = [
        "# Benchmark results" + (" (smoke run)" if meta.get("smoke") else ""),
        "",
        f"Measured {meta.get('date')} on {meta.get('machine')}; {reps} repetition(s) of "
        f"{', '.join(meta.get('groups', []))}; {meta.get('minutes', 0):.1f} min in all; 1-minute load average "
        f"between {load} during the run. Written by `python -m bench` (`make bench`); each contender runs "
        "on fresh lab hosts.",
        "",
        *([f"**Failed**: {meta['error']}", ""] if meta.get("error") else []),
        *(["**Partial**: written while the run was going on; the samples show the repetitions done.", ""]
          if not meta.get("complete", True) and not meta.get("error") else []),
        *([f"The machine was busy when this run started (load average {meta['start_load']:.1f} on "
           f"{os.cpu_count()} cores before any lab host existed, other work running beside it): absolute "
           "times are inflated and the ratios are noisy; re-run `make bench` on a quiet machine for "
           "numbers to quote.", ""]
          if meta.get("start_load", 0) > (os.cpu_count() or 1) else
          [f"The load average was {meta.get('start_load', 0):.1f} when the run started, before any lab "
           "host existed; the higher loads during the run are the bench's own lab hosts (mostly the "
           "20-host scale group's engines).", ""]),
        "## Targets",
        "",
        "| target | measured (ratio of medians) | per repetition | met |",
        "|---|---|---|---|",
    ]
    lines += [f"| {t.what} | {t.measured} | {t.per_rep} | {'met' if t.met else '**missed**'} |" for t in judged]
    lines += ["", "## Measurements", "", "| benchmark | median | spread (max-min) | samples | changed |",
              "|---|---|---|---|---|"]
    for m in results.metrics.values():
        unit = f" {m.unit}" if m.unit else ""
        lines.append(f"| {m.name} | {m.median:.2f}{unit} | {m.spread:.2f}{unit} | "
                     f"{', '.join(f'{s:.2f}' for s in m.samples)} | {'/'.join(map(str, m.changed))} |")
    lines += ["", *METHOD]
    if results.profiles:
        lines += ["", "## Where the time goes (bench_timer callback)", ""]
        for name, runs in results.profiles.items():
            lines += _profile_lines(name, runs)
    path.write_text("\n".join(lines).rstrip() + "\n")
    # The raw numbers beside the report, for a later comparison or a re-drawn plot.
    path.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "metrics": {m.name: {"unit": m.unit, "samples": m.samples, "changed": m.changed}
                                   for m in results.metrics.values()}}, indent=1) + "\n")
    return [(t.what, t.met) for t in judged]


def write_plot(results: Results, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    def bars(ax, names: list[str], labels: list[str], title: str, unit: str = "s") -> None:
        present = [(n, lab) for n, lab in zip(names, labels, strict=True) if results.get(n)]
        if not present:
            ax.set_visible(False)
            return
        ms = [results.get(n) for n, _ in present]
        med = [m.median for m in ms]
        err = [[m.median - min(m.samples) for m in ms], [max(m.samples) - m.median for m in ms]]
        ax.bar([lab for _, lab in present], med, yerr=err, capsize=4, color="#4c78a8")
        for i, v in enumerate(med):
            ax.annotate(f"{v:.1f}", (i, v), ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                        textcoords="offset points")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelsize=8)

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    bars(axes[0][0], [A5, B5, C5, RERUN, CHECK],
         ["(a) site.yml", "(b) bare script", "(c) community\n.docker", "site.yml\nre-run", "site.yml\n--check"],
         "Bootstrap, 3 managers + 2 workers")
    ax = axes[0][1]
    for label, key, marker in (("(a) site.yml", "(a) swarmops site.yml", "o"),
                               ("(b) bare script", "(b) bare SSH script", "s")):
        points = [(h, results.get(f"bootstrap {h} hosts: {key}")) for h in (5, 20, 50)]
        points = [(h, m) for h, m in points if m]
        if points:
            ax.errorbar([h for h, _ in points], [m.median for _, m in points],
                        yerr=[[m.median - min(m.samples) for _, m in points],
                              [max(m.samples) - m.median for _, m in points]],
                        marker=marker, capsize=4, label=label)
    ax.set_title("Bootstrap time against host count", fontsize=10)
    ax.set_xlabel("hosts")
    ax.set_ylabel("s")
    ax.set_xticks([5, 20, 50])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax = axes[1][0]
    ks = [k for k in (1, 5, 20) if results.get(f"drain {k} task(s): swarm_node with wait")]
    if ks:
        width = 0.38
        for offset, key, label in ((-width / 2, "swarm_node with wait", "swarm_node (task time)"),
                                   (width / 2, "engine's drain + polling script", "engine drain + script")):
            ms = [results.get(f"drain {k} task(s): {key}") for k in ks]
            ax.bar([i + offset for i in range(len(ks))], [m.median for m in ms], width,
                   yerr=[[m.median - min(m.samples) for m in ms], [max(m.samples) - m.median for m in ms]],
                   capsize=4, label=label)
        ax.set_xticks(range(len(ks)))
        ax.set_xticklabels([f"{k} task(s)" for k in ks])
        ax.set_title("Drain a node until its tasks run elsewhere", fontsize=10)
        ax.set_ylabel("s")
        ax.legend(fontsize=8)
    else:
        ax.set_visible(False)
    bars(axes[1][1], ["one module call: swarm_info (swarmops)",
                      "one module call: docker_swarm_info (community.docker)"],
         ["swarm_info\n(swarmops)", "docker_swarm_info\n(community.docker)"], "Controller cost of one module call")
    mem = results.get("controller peak memory, 50-host site.yml (PSS)")
    title = "swarmops benchmarks" + (f"; controller peak memory at 50 hosts {mem.median:.0f} MiB (PSS)" if mem else "")
    fig.suptitle(title + f"\n{results.meta.get('date', '')}, {results.meta.get('reps')} repetition(s), "
                 "median with min-max", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
