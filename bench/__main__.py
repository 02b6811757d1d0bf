"""`python -m bench [--reps N] [--only GROUP,...] [--out FILE] [--smoke]`: swarmops against the bare
CLI and community.docker, on fresh lab hosts, written to bench/results.md and a PNG beside it.

Groups (all by default): bootstrap (a) site.yml, (b) a bare SSH script, (c) community.docker,
each on a fresh 3-manager + 2-worker lab, plus site.yml's converged re-run and --check; scale
(site.yml's bootstrap and re-run and the script on 20 and 50 hosts, the controller's CPU and
memory); drain (swarm_node
against the engine's own drain, k = 1, 5, 20 tasks); cost (one module round trip, swarm_info
against docker_swarm_info). Every target is a ratio of numbers measured in the same run.

The labs are named SWARMOPS_BENCH_LAB (default `swb`) on SWARMOPS_BENCH_NET (third octet of
the /24, default 100), one at a time, each removed before the next and at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .harness import BENCH, OUT, BenchError, Lab, PlaybookRun, children_cpu, ensure_cd_venv, playbook, run, timed
from .report import SSH_A5, SSH_RERUN, Results, write_plot, write_report

GROUPS = ("bootstrap", "drain", "cost", "scale")
SMOKE_GROUPS = ("bootstrap",)
DRAIN_TASKS = (1, 5, 20)
COST_CALLS = 10
# What roles/docker_engine writes with its defaults (to_nice_json: sorted keys, indent 2).
DAEMON_JSON = json.dumps({"log-driver": "json-file", "log-opts": {"max-file": "3", "max-size": "10m"}},
                         indent=2, sort_keys=True) + "\n"


class Bench:
    def __init__(self, lab: Lab, smoke: bool, groups: list[str]) -> None:
        self.lab, self.smoke, self.groups = lab, smoke, groups
        self.results = Results()

    # Runs ----------------------------------------------------------------------------------------
    def ansible(self, path: str | Path, *args: str, contender: str = "swarmops", memory: bool = False) -> PlaybookRun:
        # A control-socket folder of its own per run: no run reuses the SSH connections an
        # earlier run left open, so each pays for its connections as an operator's first run does.
        with tempfile.TemporaryDirectory(prefix="swx-cp-", dir="/tmp") as cp:
            try:
                return playbook(self.lab, path, *args, contender=contender, memory=memory,
                                extra_env={"ANSIBLE_SSH_CONTROL_PATH_DIR": cp})
            finally:
                for sock in Path(cp).iterdir():  # close the connections the run left open
                    subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                                   capture_output=True, timeout=10, check=False)

    def fresh(self, managers: int, workers: int) -> None:
        """A new lab whose engines run as site.yml's engine layer leaves them, with no swarm.

        The engine layer (daemon.json, then an engine restart) is done before the clock starts
        for every contender alike: the bare script and community.docker do not configure
        engines, so timing it in (a) alone would measure a restart the others never do.
        """
        took = self.lab.up(managers, workers)
        self.results.add(f"lab up, {managers + workers} hosts", took)
        # The daemon.json the docker_engine role writes with its defaults, and a restart; done
        # over SSH because an ansible-playbook run per lab costs more than the bench can spare
        # on a loaded machine. swarmops() checks that site.yml then finds nothing to restart.
        script = (f"cat > /etc/docker/daemon.json <<'EOF'\n{DAEMON_JSON}EOF\n"
                  "service docker restart >/dev/null 2>&1\n"
                  "for _ in $(seq 300); do docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda host: self.lab.ssh(host, script), self.lab.hosts))

    def verify(self, managers: int, workers: int) -> None:
        """The cluster every bootstrap contender must leave: all nodes ready with their labels,
        web at 3 running tasks, the firewall chain on every host."""
        m1 = "manager1"
        nodes = self.lab.ssh(m1, "docker node ls --format '{{.Hostname}} {{.Status}}'").split("\n")
        ready = [n for n in nodes if n.endswith(" Ready")]
        labels = self.lab.ssh(m1, "docker node inspect --format '{{.Description.Hostname}} {{json .Spec.Labels}}' "
                                  "$(docker node ls -q)").splitlines()
        running = self.lab.ssh(m1, "docker service ps web --filter desired-state=running "
                                   "--format '{{.CurrentState}}' | grep -c ^Running || true").strip()
        problems = []
        if len(ready) != managers + workers:
            problems.append(f"{len(ready)} of {managers + workers} nodes ready")
        if sum('"bench.zone":"lab"' in line for line in labels) != managers + workers:
            problems.append(f"labels: {labels}")
        if running != "3":
            problems.append(f"web has {running} running tasks, not 3")
        for host in self.lab.hosts:
            rules = self.lab.ssh(host, "iptables -S SWARMOPS-INPUT | grep -c -- -j || true").strip()
            if int(rules or 0) < 5:
                problems.append(f"{host}: firewall chain has {rules} rules")
        if problems:
            raise BenchError("the cluster is not what every contender must build: " + "; ".join(problems))

    # Contenders ----------------------------------------------------------------------------------
    def swarmops(self, managers: int, workers: int, memory: bool = False) -> PlaybookRun:
        result = self.ansible("site.yml", memory=memory)
        if any("Restart the Docker engine" in t["task"] for t in result.tasks):
            raise BenchError("site.yml restarted the engines: the bench's DAEMON_JSON is out of step "
                             "with the docker_engine role's defaults")
        self.verify(managers, workers)
        return result

    def bare(self, managers: int, workers: int, cpu_metric: str = "") -> float:
        argv = ["bash", str(BENCH / "bare_bootstrap.sh"), str(self.lab.key),
                " ".join(self.lab.addresses("manager")), " ".join(self.lab.addresses("worker"))]
        cpu_before = children_cpu()
        took, _ = timed(run, argv, timeout=600)
        if cpu_metric:
            self.results.add(cpu_metric, children_cpu() - cpu_before, unit="CPU s")
        self.verify(managers, workers)
        return took

    def community_docker(self, managers: int, workers: int) -> PlaybookRun:
        result = self.ansible(BENCH / "community_docker.yml", contender="community.docker")
        self.verify(managers, workers)
        return result

    # Groups --------------------------------------------------------------------------------------
    def bootstrap(self) -> None:
        r = self.results
        self.fresh(3, 2)
        a = self.swarmops(3, 2, memory=True)
        r.add("bootstrap 5 hosts: (a) swarmops site.yml", a.wall)
        r.add("controller CPU, bootstrap 5 hosts: (a) site.yml", a.cpu, unit="CPU s")
        r.add("controller peak memory, 5-host site.yml (PSS)", a.peak_pss_mib, unit="MiB")
        r.add("controller peak memory, 5-host site.yml (RSS sum)", a.peak_rss_mib, unit="MiB")
        r.add_profile("site.yml bootstrap, 5 hosts", a.tasks)
        r.add(SSH_A5, a.ssh, unit="")
        again = self.ansible("site.yml")
        r.add("converged re-run of site.yml", again.wall, changed=again.changed)
        r.add("controller CPU, converged re-run 5 hosts", again.cpu, unit="CPU s")
        r.add(SSH_RERUN, again.ssh, unit="")
        r.add_profile("site.yml converged re-run, 5 hosts", again.tasks)
        check = self.ansible("site.yml", "--check")
        r.add("--check run of site.yml (converged)", check.wall, changed=check.changed)

        self.fresh(3, 2)
        r.add("bootstrap 5 hosts: (b) bare SSH script",
              self.bare(3, 2, cpu_metric="controller CPU, bootstrap 5 hosts: (b) bare script"))
        if self.smoke:
            return
        self.fresh(3, 2)
        c = self.community_docker(3, 2)
        r.add("bootstrap 5 hosts: (c) community.docker", c.wall)
        r.add("controller CPU, bootstrap 5 hosts: (c) community.docker", c.cpu, unit="CPU s")
        r.add("SSH executions, bootstrap 5 hosts: (c) community.docker", c.ssh, unit="")
        r.add_profile("community.docker bootstrap, 5 hosts", c.tasks)

    def scale(self) -> None:
        r = self.results
        # 5 hosts is the bootstrap group's (a); measured here only when that group does not run.
        # 50 hosts needs the lab's raised neighbour-table limits (lab up sets them).
        for workers in (17, 47) if "bootstrap" in self.groups else (2, 17, 47):
            hosts = 3 + workers
            self.fresh(3, workers)
            a = self.swarmops(3, workers, memory=hosts in (20, 50))
            r.add(f"bootstrap {hosts} hosts: (a) swarmops site.yml", a.wall)
            r.add(f"controller CPU, bootstrap {hosts} hosts: (a) site.yml", a.cpu, unit="CPU s")
            if hosts in (20, 50):
                r.add(f"controller peak memory, {hosts}-host site.yml (PSS)", a.peak_pss_mib, unit="MiB")
                r.add(f"controller peak memory, {hosts}-host site.yml (RSS sum)", a.peak_rss_mib, unit="MiB")
                r.add(f"controller processes at peak, {hosts}-host site.yml", a.peak_processes, unit="")
                r.add_profile(f"site.yml bootstrap, {hosts} hosts", a.tasks)
            again = self.ansible("site.yml")
            r.add(f"converged re-run, {hosts} hosts", again.wall, changed=again.changed)
            r.add(f"controller CPU, converged re-run {hosts} hosts", again.cpu, unit="CPU s")
            self.fresh(3, workers)
            r.add(f"bootstrap {hosts} hosts: (b) bare SSH script", self.bare(3, workers))

    def drain(self, rep: int) -> None:
        """k tasks on worker1 (the other nodes paused while they are placed), then worker1 drained
        until every task runs elsewhere: by swarm_node with wait, and by the engine's own drain
        polled from a script on the manager. The order of the two alternates by repetition."""
        self.lab.up(3, 2)
        self.bare(3, 2)
        lab = self.lab
        lab.ssh("manager1", "docker service rm web >/dev/null")
        others = "manager1 manager2 manager3 worker2"
        for k in DRAIN_TASKS:
            order = ("swarm_node", "engine") if (rep + k) % 2 == 0 else ("engine", "swarm_node")
            for how in order:
                name = f"drain{k}"
                lab.ssh("manager1", f"""set -e
                  for n in {others}; do docker node update --availability pause $n >/dev/null; done
                  docker node update --availability active worker1 >/dev/null
                  docker service create --detach --name {name} --replicas {k} swarmops/probe:1 >/dev/null 2>&1
                  {wait_running(name, k, "worker1")}
                  for n in {others}; do docker node update --availability active $n >/dev/null; done""")
                if how == "engine":
                    took, _ = timed(lab.ssh, "manager1", f"""set -e
                      docker node update --availability drain worker1 >/dev/null
                      {wait_running(name, k, "", away_from="worker1")}""")
                    self.results.add(f"drain {k} task(s): engine's drain + polling script", took)
                else:
                    result = self.ansible(BENCH / "drain.yml", "-e", "drain_node=worker1")
                    task = next(t for t in result.tasks if t["task"].startswith("Drain"))
                    self.results.add(f"drain {k} task(s): swarm_node with wait", task["seconds"])
                    if "waited" in task:
                        self.results.add(f"drain {k} task(s): swarm_node's own wait (its result)", task["waited"])
                    self.results.add(f"drain {k} task(s): swarm_node, whole ansible-playbook", result.wall)
                lab.ssh("manager1", f"docker service rm {name} >/dev/null; "
                                    "docker node update --availability active worker1 >/dev/null")

    def cost(self) -> None:
        """One module round trip on one host: the median of COST_CALLS calls after a warm-up call
        that opens the connection, for swarm_info and community.docker's docker_swarm_info."""
        if not self.lab.hosts:
            self.lab.up(3, 2)
            self.bare(3, 2)
        OUT.mkdir(parents=True, exist_ok=True)
        for contender, module, args in (
            ("swarmops", "swarm_info", {"services": "false"}),
            ("community.docker", "community.docker.docker_swarm_info", {"nodes": "true"}),
        ):
            path = OUT / f"cost-{module.rsplit('.', 1)[-1]}.yml"
            lines = ["---", f"- name: {COST_CALLS} calls of {module}", "  hosts: managers[0]",
                     "  gather_facts: false", "  tasks:"]
            for i in range(COST_CALLS + 1):
                lines += [f"    - name: Call {i}", f"      {module}:"]
                lines += [f"        {k}: {v}" for k, v in args.items()]
            path.write_text("\n".join(lines) + "\n")
            result = self.ansible(path, contender=contender)
            calls = [t["seconds"] for t in result.tasks if t["task"].startswith("Call ")][1:]
            self.results.add(f"one module call: {module.rsplit('.', 1)[-1]} ({contender})",
                             statistics.median(calls))


def wait_running(service: str, k: int, on: str, away_from: str = "") -> str:
    """Shell that polls every 0.1 s until `service` has k running tasks (on node `on` if given),
    none still running on `away_from` (if given); fails after 120 s."""
    cond = f'[ "$(echo "$tasks" | grep -c " Running" || true)" -ge {k} ]'
    if on:
        cond += f' && [ "$(echo "$tasks" | grep -v "^{on} " | grep -c . || true)" -eq 0 ]'
    if away_from:
        cond += (f' && [ "$(docker node ps {away_from} --format "{{{{.CurrentState}}}}" | grep -c ^Running || true)"'
                 ' -eq 0 ]')
    return f"""for _ in $(seq 1200); do
      tasks=$(docker service ps {service} --filter desired-state=running --format '{{{{.Node}}}} {{{{.CurrentState}}}}')
      if {cond}; then break; fi
      sleep 0.1
    done
    {cond} || {{ echo "{service}: not converged after 120 s" >&2; exit 1; }}"""


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--only", default="", help=f"comma-separated groups of {', '.join(GROUPS)}")
    p.add_argument("--out", default=str(BENCH / "results.md"))
    p.add_argument("--smoke", action="store_true",
                   help="bootstrap (a), re-run, --check and (b) once on 5 hosts; a missed target is not an error")
    args = p.parse_args()
    groups = [g for g in (args.only.split(",") if args.only else (SMOKE_GROUPS if args.smoke else GROUPS)) if g]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        p.error(f"--only: unknown group(s) {', '.join(sorted(unknown))}; allowed: {', '.join(GROUPS)}")
    lab = Lab(os.environ.get("SWARMOPS_BENCH_LAB", "swb"),
              f"10.203.{int(os.environ.get('SWARMOPS_BENCH_NET', '100'))}.0/24")
    if ("bootstrap" in groups and not args.smoke) or "cost" in groups:
        ensure_cd_venv()
    bench = Bench(lab, args.smoke, groups)
    started = time.monotonic()
    error = ""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    loads: list[float] = []
    # Before any lab host exists: what else was running on the machine (the bench's own 20-host
    # group alone takes the load average far above the core count).
    start_load = os.getloadavg()[0]

    def write(complete: bool) -> list[tuple[str, bool]]:
        """The report and plot of the repetitions done so far (rewritten after each one)."""
        bench.results.meta = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)",
            "reps": args.reps,
            "complete": complete,
            "minutes": (time.monotonic() - started) / 60,
            "load": (min(loads), max(loads)) if loads else (),
            "start_load": start_load,
            "smoke": args.smoke,
            "groups": groups,
            "error": error,
        }
        verdicts = write_report(bench.results, out)
        write_plot(bench.results, out.with_suffix(".png"))
        return verdicts

    errors: list[str] = []
    try:
        # Group by group, all repetitions of one before the next, the report rewritten after
        # each: a run stopped early still leaves every finished number written. A group that
        # fails is reported and the next one still runs.
        for group in groups:
            for rep in range(args.reps):
                print(f"bench: {group}, repetition {rep + 1}/{args.reps}", flush=True)
                loads.append(os.getloadavg()[0])
                try:
                    if group == "drain":
                        bench.drain(rep)
                    elif group == "cost":
                        bench.cost()
                    else:
                        getattr(bench, group)()
                except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
                    errors.append(f"{group}, repetition {rep + 1}: {exc}")
                    print(f"bench: FAILED {errors[-1]}", file=sys.stderr, flush=True)
                    break
                finally:
                    loads.append(os.getloadavg()[0])
                error = "; ".join(e.splitlines()[0] for e in errors)
                write(complete=False)
    finally:
        lab.down()
    error = "; ".join(e.splitlines()[0] for e in errors)
    verdicts = write(complete=not error)
    plot = out.with_suffix(".png")
    print(out.read_text())
    print(f"written to {out}" + (f" and {plot}" if plot.exists() else " (no plot: matplotlib is not installed)"))
    if errors:
        print("bench: failed:\n" + "\n".join(errors), file=sys.stderr)
        return 2
    missed = [name for name, met in verdicts if not met]
    return 0 if args.smoke or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
