"""After site.yml, outsider1 reaches none of the swarm ports of any member while the members
reach each other's, and the published port (8080) stays open to outsider1.

tests/integration/test_site.py checks two TCP pairs; this extends it to every member, to UDP
(7946 and 4789), and to the published port. TCP is probed with a connect (an established
connection is "reached"; refused or timed out is not). UDP has no handshake, so each datagram
is followed in the target's own SWARMOPS-INPUT counters: a member's datagrams hit its ACCEPT
rule, an outsider's hit the DROP rule and nothing else.
"""

from __future__ import annotations

import json
import re
import shlex
from concurrent.futures import ThreadPoolExecutor

from support.lab import Lab, wait_for
from support.reliability import MEMBERS

MANAGERS = [m for m in MEMBERS if m.startswith("manager")]
CHAIN = "SWARMOPS-INPUT"
DATAGRAMS = 3

# Run on a lab host: connect to each (address, port) at once; print {"addr:port": verdict}.
TCP_PROBE = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
def probe(target):
    addr, port = target.rsplit(":", 1)
    try:
        socket.create_connection((addr, int(port)), timeout=3).close()
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return type(exc).__name__
targets = sys.argv[1:]
with ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps(dict(zip(targets, pool.map(probe, targets)))))
"""

UDP_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for target in sys.argv[2:]:
    addr, port = target.rsplit(":", 1)
    for _ in range(int(sys.argv[1])):
        s.sendto(b"swarmops-reliability", (addr, int(port)))
"""


def _python(lab: Lab, host: str, code: str, *args: str) -> str:
    return lab.ssh(host, f"python3 -c {shlex.quote(code)} {shlex.join(args)}").stdout


def _tcp(lab: Lab, source: str, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    out = json.loads(_python(lab, source, TCP_PROBE, *[f"{lab.hosts[h]}:{p}" for h, p in targets]))
    return {(h, p): out[f"{lab.hosts[h]}:{p}"] for h, p in targets}


# pkts bytes target prot opt in out source destination [tcp|udp dpt:PORT]
RULE = re.compile(r"\s*(\d+)\s+\d+\s+(ACCEPT|DROP)\s+(\S+)\s+\S+\s+\S+\s+\S+\s+(\S+)\s+\S+\s*"
                  r"(?:(tcp|udp) dpt:(\d+))?")


def _counters(lab: Lab, host: str) -> dict[tuple[str, str, str], int]:
    """(target, source, 'proto/port') -> packets, from `iptables -L CHAIN -v -n -x`."""
    out = lab.ssh(host, f"iptables -w -L {CHAIN} -v -n -x").stdout
    counts = {}
    for line in out.splitlines():
        m = RULE.match(line)
        if m and m.group(5):
            counts[(m.group(2), m.group(4), f"{m.group(5)}/{m.group(6)}")] = int(m.group(1))
    return counts


def _all_counters(lab: Lab) -> dict[str, dict]:
    with ThreadPoolExecutor(len(MEMBERS)) as pool:
        return dict(zip(MEMBERS, pool.map(lambda h: _counters(lab, h), MEMBERS), strict=True))


def test_outsider_reaches_no_swarm_tcp_port_of_any_member(converged_lab: Lab):
    lab = converged_lab
    targets = [(h, 7946) for h in MEMBERS] + [(h, 2377) for h in MEMBERS]
    verdicts = _tcp(lab, "outsider1", targets)
    reached = [t for t, v in verdicts.items() if v == "connected"]
    assert reached == [], verdicts
    # Dropped, not merely closed, where the swarm listens: 7946 everywhere, 2377 on managers.
    assert all(verdicts[(h, 7946)] != "refused" for h in MEMBERS), verdicts
    assert all(verdicts[(h, 2377)] != "refused" for h in MANAGERS), verdicts


def test_members_reach_each_others_swarm_tcp_ports(converged_lab: Lab):
    lab = converged_lab
    for source in MEMBERS:
        targets = [(h, 7946) for h in MEMBERS if h != source] + [(h, 2377) for h in MANAGERS if h != source]
        verdicts = _tcp(lab, source, targets)
        assert set(verdicts.values()) == {"connected"}, (source, verdicts)


def test_udp_from_members_is_accepted_and_from_the_outsider_dropped(converged_lab: Lab):
    lab = converged_lab
    ports = ("udp/7946", "udp/4789")
    udp_targets = [f"{lab.hosts[h]}:{p.split('/')[1]}" for h in MEMBERS for p in ports]

    # Window 1: every member sends to every other member; no DROP counter moves.
    before = _all_counters(lab)
    for source in MEMBERS:
        mine = [t for t in udp_targets if not t.startswith(f"{lab.hosts[source]}:")]
        _python(lab, source, UDP_SEND, str(DATAGRAMS), *mine)
    after = _all_counters(lab)
    for target in MEMBERS:
        for port in ports:
            drop = ("DROP", "0.0.0.0/0", port)
            assert after[target][drop] == before[target][drop], (target, port, "a member's datagram was dropped")
            for source in MEMBERS:
                if source == target:
                    continue
                accept = ("ACCEPT", lab.hosts[source], port)
                assert after[target][accept] - before[target][accept] >= DATAGRAMS, (target, source, port)

    # Window 2: outsider1 sends the same; each target's DROP rule counts exactly its datagrams.
    before = _all_counters(lab)
    _python(lab, "outsider1", UDP_SEND, str(DATAGRAMS), *udp_targets)
    after = _all_counters(lab)
    for target in MEMBERS:
        assert not any(src == lab.hosts["outsider1"] for _, src, _ in after[target])  # no rule lets it in
        for port in ports:
            drop = ("DROP", "0.0.0.0/0", port)
            assert after[target][drop] - before[target][drop] == DATAGRAMS, (target, port)


def test_published_port_stays_open_to_the_outsider(converged_lab: Lab):
    """The probe service publishes 8080 in host mode on the workers (lab inventory)."""
    lab = converged_lab
    for worker in ("worker1", "worker2"):
        def page(w=worker) -> str | None:
            r = lab.ssh("outsider1", f"curl -s -m 3 http://{lab.hosts[w]}:8080/", check=False)
            return r.stdout.strip() if r.returncode == 0 else None

        assert wait_for(page, 60, what=f"{worker}:8080 from outsider1") == f"swarmops probe v1 on {worker}"
    # And the load balancer's frontend on the same port.
    verdicts = _tcp(lab, "outsider1", [("lb1", 8080)])
    assert verdicts == {("lb1", 8080): "connected"}
