"""Jinja filters for swarmops roles: pure functions, unit-tested in tests/unit."""

from __future__ import annotations

import ipaddress
from typing import Any


def in_networks(address: str, cidrs: list[str]) -> bool:
    """True when address lies in one of cidrs."""
    ip = ipaddress.ip_address(str(address).strip())
    return any(ip in ipaddress.ip_network(c, strict=False) for c in cidrs)


def bad_networks(cidrs: list[str]) -> list[str]:
    """The entries of cidrs that are not networks (address/prefix), for a role to name them."""
    bad = []
    for cidr in cidrs:
        try:
            ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            bad.append(str(cidr))
    return bad


def _canonical_net(cidr: str) -> str:
    net = ipaddress.ip_network(str(cidr).strip(), strict=False)
    return str(net)  # iptables -S prints a host as a.b.c.d/32


def firewall_rules(cidrs: list[str], ports: list[list[Any]], esp: bool = False,
                   published: list[dict[str, Any]] | None = None) -> list[str]:
    """The swarm chain's rules, written as `iptables -S` prints them.

    Published ports are accepted from anywhere first; then each swarm port (and ESP) is
    accepted from each cluster network; then the same ports are dropped from anywhere else.
    """
    proto_ports = [(str(p).lower(), int(n)) for p, n in ports]
    for proto, port in proto_ports:
        if proto not in ("tcp", "udp") or not 0 < port < 65536:
            raise ValueError(f"bad swarm port {proto}/{port}: protocol tcp or udp, port 1-65535")
    rules = []
    for item in published or []:
        proto, port = str(item.get("protocol", "tcp")).lower(), int(item["port"])
        if proto not in ("tcp", "udp") or not 0 < port < 65536:
            raise ValueError(f"swarm_firewall_published_ports: bad entry {item}: protocol tcp|udp, port 1-65535")
        rules.append(f"-p {proto} -m {proto} --dport {port} -j ACCEPT")
    nets = [_canonical_net(c) for c in cidrs]
    for net in nets:
        rules += [f"-s {net} -p {proto} -m {proto} --dport {port} -j ACCEPT" for proto, port in proto_ports]
        if esp:
            rules.append(f"-s {net} -p esp -j ACCEPT")
    rules += [f"-p {proto} -m {proto} --dport {port} -j DROP" for proto, port in proto_ports]
    rules.append("-p esp -j DROP")
    return rules


def status_lines(info: dict[str, Any]) -> list[str]:
    """swarm_info's result as lines of a report a person reads at a glance."""
    q = info.get("quorum") or {}
    lines = [
        f"swarm {(info.get('swarm') or {}).get('id', '?')}  leader {info.get('leader', '?')}  "
        f"managers reachable {q.get('reachable', '?')}/{q.get('managers', '?')} "
        f"(quorum {q.get('quorum', '?')}, may still lose {q.get('can_still_lose', '?')})",
        f"{'NODE':<14}{'ROLE':<9}{'AVAILABILITY':<14}{'STATE':<8}{'ENGINE':<16}LABELS",
    ]
    for n in sorted(info.get("nodes") or [], key=lambda n: (n.get("role") != "manager", n.get("hostname", ""))):
        labels = ",".join(f"{k}={v}" for k, v in sorted((n.get("labels") or {}).items()))
        lines.append(f"{n.get('hostname', ''):<14}{n.get('role', ''):<9}{n.get('availability', ''):<14}"
                     f"{n.get('state', ''):<8}{n.get('engine_version', ''):<16}{labels}".rstrip())
    services = info.get("services") or []
    if services:
        lines.append(f"{'SERVICE':<24}{'MODE':<12}RUNNING/DESIRED")
        for svc in sorted(services, key=lambda s: s.get("name", "")):
            lines.append(f"{svc.get('name', ''):<24}{svc.get('mode', ''):<12}{svc.get('running')}/{svc.get('desired')}")
    return lines


def degraded_services(services: list[dict[str, Any]]) -> list[str]:
    """Services running fewer tasks than desired, as "name running/desired" (swarm_info's services)."""
    return [f"{s.get('name')} {s.get('running') or 0}/{s.get('desired')}"
            for s in services or []
            if s.get("desired") is not None and (s.get("running") or 0) < s["desired"]]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"swarmops_in_networks": in_networks, "swarmops_bad_networks": bad_networks,
                "swarmops_firewall_rules": firewall_rules,
                "swarmops_status_lines": status_lines, "swarmops_degraded_services": degraded_services}
