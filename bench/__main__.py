"""`python -m bench [--reps N] [--only NAME]`: benchmarks on fresh lab hosts, written to bench/results.md.

Each benchmark brings up its own lab (name `swb`, subnet 10.203.100.0/24), measures, and
removes it. Targets are ratios or bounds checked against the numbers measured in this run,
never in a timed unit test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = ["--name", "swb"]
SUBNET = "10.203.100.0/24"


@dataclass
class Row:
    name: str
    samples: list[float]
    target: str
    met: bool

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        return max(self.samples) - min(self.samples)


def lab(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "lab", *LAB, *args], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def time_lab_up(workers: int) -> float:
    """Seconds from `lab up` to every host ready (sshd, engine, images), on a clean machine."""
    lab("down")
    start = time.monotonic()
    lab("up", "--subnet", SUBNET, "--managers", "3", "--workers", str(workers))
    took = time.monotonic() - start
    lab("down")
    return took


BENCHMARKS: dict[str, tuple[Callable[[], float], float, str]] = {
    # name: (measure, bound in seconds, what the bound is)
    "lab up, 5 hosts": (lambda: time_lab_up(2), 15.0, "<= 15 s"),
    "lab up, 20 hosts": (lambda: time_lab_up(17), 45.0, "<= 45 s"),
}

# VM backend (qemu, software emulation here): minutes per sample, so only with --vm.
VM_LAB = ["--name", os.environ.get("SWARMOPS_BENCH_VM_LAB", "swbv")]
VM_SUBNET = os.environ.get("SWARMOPS_BENCH_VM_SUBNET", "10.203.101.0/24")


def time_vm_lab_up(managers: int, workers: int) -> float:
    """Seconds from `lab up --backend vm` to every VM reachable by SSH (base image cached)."""
    subprocess.run([sys.executable, "-m", "lab", "image"], cwd=REPO, check=True, capture_output=True)

    def vm_lab(*args: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "lab", *VM_LAB, *args], cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"lab {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")

    vm_lab("down")
    start = time.monotonic()
    vm_lab("up", "--backend", "vm", "--subnet", VM_SUBNET, "--managers", str(managers), "--workers", str(workers))
    took = time.monotonic() - start
    vm_lab("down")
    return took


VM_BENCHMARKS: dict[str, tuple[Callable[[], float], float, str]] = {
    "lab up --backend vm, 3 VMs": (lambda: time_vm_lab_up(2, 1), 120.0, "<= 120 s"),
    "lab up --backend vm, 5 VMs": (lambda: time_vm_lab_up(3, 2), 180.0, "<= 180 s"),
}


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--only", default="", help="run benchmarks whose name contains this")
    p.add_argument("--out", default=str(REPO / "bench" / "results.md"))
    p.add_argument("--smoke", action="store_true", help="check the benchmarks run; a missed target is not an error")
    p.add_argument("--vm", action="store_true", help="also the VM backend's benchmarks (minutes each)")
    args = p.parse_args()
    rows = []
    for name, (measure, bound, target) in {**BENCHMARKS, **(VM_BENCHMARKS if args.vm else {})}.items():
        if args.only and args.only not in name:
            continue
        samples = [measure() for _ in range(args.reps)]
        row = Row(name, samples, target, statistics.median(samples) <= bound)
        rows.append(row)
        print(f"{name}: median {row.median:.1f} s over {args.reps} ({'met' if row.met else 'MISSED'} {target})")
    lines = [
        "# Benchmark results",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.node()} ({platform.machine()}, "
        f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores), "
        f"{args.reps} repetitions each; written by `python -m bench`.",
        "",
        "| benchmark | median | spread | samples | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.name} | {r.median:.2f} s | {r.spread:.2f} s | "
                     f"{', '.join(f'{s:.2f}' for s in r.samples)} | {r.target} | {'yes' if r.met else 'no'} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")
    return 0 if args.smoke or all(r.met for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
