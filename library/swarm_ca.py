#!/usr/bin/python
"""swarm_ca: rotate the swarm's root CA and wait until every node has a certificate from it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_ca
short_description: Rotate the swarm root CA and wait until every node is re-issued; set cert expiry
description:
  - I(rotate=true) rotates to a new self-signed root CA (always a change). I(ca_cert) with I(ca_key)
    rotates to the given root; nothing changes when it is already the swarm's root. I(external_ca)
    points the swarm at external CFSSL signers (with I(ca_cert), the external root).
  - The engine cross-signs the new root with the old one, re-issues every node's certificate, then
    makes the new root the trust root. With I(wait=true) the module returns only when the rotation
    is no longer in progress and every node that is not down shows a certificate issued by the new
    root (issuer subject and public key), or fails after I(wait_timeout) with the progress seen.
  - I(cert_expiry) sets the validity of node certificates (applied as they are renewed or re-issued).
  - The CA key is never returned or printed.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  rotate:
    description: Rotate to a new self-signed root CA.
    type: bool
    default: false
  ca_cert:
    description: PEM of the root CA certificate to rotate to (with I(ca_key)), or of the external CA's root.
    type: str
  ca_key:
    description: PEM of the key of I(ca_cert).
    type: str
  external_ca:
    description: External CA signers; each has C(url) and optionally C(protocol) (C(cfssl)).
    type: list
    elements: dict
  cert_expiry:
    description: Validity of node certificates, e.g. C(90d), C(720h), or seconds.
    type: raw
  wait:
    description: Wait until every node's certificate is issued by the new root.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the rotation.
    type: int
    default: 300
notes:
  - Supports check mode and diff mode (root CA subjects and fingerprints, never keys).
"""

EXAMPLES = r"""
- name: Rotate to a new self-signed root and wait for every node
  swarm_ca:
    rotate: true
  run_once: true

- name: Rotate to our own root CA
  swarm_ca:
    ca_cert: "{{ lookup('file', 'swarm-root.crt') }}"
    ca_key: "{{ vault_swarm_root_key }}"
  run_once: true

- name: Shorter node certificates
  swarm_ca:
    cert_expiry: 30d
"""

RETURN = r"""
rotated:
  description: Whether the root CA was (or would be) rotated.
  returned: always
  type: bool
root_ca:
  description: sha256 fingerprint of the trust root after the task.
  returned: always
  type: str
nodes:
  description: Each node with hostname, state and tls_current (certificate issued by the trust root).
  returned: always
  type: list
  elements: dict
rotation:
  description: How the wait went - waited (seconds), polls, progress, timed_out.
  returned: when a rotation was waited for
  type: dict
cert_expiry:
  description: The node certificate validity after the task (e.g. C(90d)).
  returned: always
  type: str
local_cert_not_after:
  description: Expiry of the certificate of the manager the module ran on (others are only readable on their hosts).
  returned: when readable
  type: str
"""

import copy  # noqa: E402
import hashlib  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops import swarm_settings  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.cluster import (  # noqa: E402
    local_cert_not_after,
    local_state,
    require_manager,
)
from ansible.module_utils.swarmops.wait import Progress, wait_for  # noqa: E402


def pem_fingerprint(pem: str | None) -> str | None:
    if not pem:
        return None
    body = "".join(line.strip() for line in pem.strip().splitlines() if "-----" not in line)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:16]


def external_cas(given: list[dict] | None, ca_cert: str | None) -> list[dict]:
    out = []
    for i, e in enumerate(given or []):
        if not e.get("url"):
            raise ValueError(f"external_ca[{i}].url is required")
        proto = e.get("protocol", "cfssl")
        if proto != "cfssl":
            raise ValueError(f"external_ca[{i}].protocol: allowed values: cfssl (got {proto!r})")
        item = {"Protocol": proto, "URL": e["url"], "Options": e.get("options") or {}}
        if ca_cert:
            item["CACert"] = ca_cert
        out.append(item)
    return out


def plan_ca(spec: dict, trust_root: str, p: dict, cert_expiry_ns: int | None) -> tuple[dict, list[str], bool]:
    """(new spec, what changes, whether the root rotates). Pure."""
    new = copy.deepcopy(spec)
    ca = new.setdefault("CAConfig", {})
    changes: list[str] = []
    rotate = False
    if p.get("ca_cert") and p.get("ca_key"):
        if pem_fingerprint(p["ca_cert"]) != pem_fingerprint(trust_root):
            ca["SigningCACert"] = p["ca_cert"]
            ca["SigningCAKey"] = p["ca_key"]
            changes.append("rotate the root CA to the given certificate")
            rotate = True
    elif p.get("rotate"):
        ca["ForceRotate"] = int(ca.get("ForceRotate") or 0) + 1
        changes.append("rotate to a new self-signed root CA")
        rotate = True
    if p.get("external_ca") is not None:
        wanted = external_cas(p["external_ca"], p.get("ca_cert"))

        def key(items):
            return [(e.get("Protocol"), e.get("URL"), pem_fingerprint(e.get("CACert"))) for e in items or []]
        if key(wanted) != key(ca.get("ExternalCAs")):
            ca["ExternalCAs"] = wanted
            changes.append("set the external CAs")
    if cert_expiry_ns is not None:
        now = ca.get("NodeCertExpiry") or 90 * 86400 * 10**9
        if now != cert_expiry_ns:
            ca["NodeCertExpiry"] = cert_expiry_ns
            changes.append(f"set cert_expiry from {swarm_settings.format_duration(now)} "
                           f"to {swarm_settings.format_duration(cert_expiry_ns)}")
    return new, changes, rotate


def nodes_tls(nodes: list[dict], issuer: dict) -> list[dict]:
    out = []
    for n in nodes:
        tls = (n.get("Description") or {}).get("TLSInfo") or {}
        out.append({
            "hostname": (n.get("Description") or {}).get("Hostname", ""),
            "node_id": n["ID"],
            "state": (n.get("Status") or {}).get("State"),
            "tls_current": tls.get("CertIssuerSubject") == issuer.get("CertIssuerSubject")
            and tls.get("CertIssuerPublicKey") == issuer.get("CertIssuerPublicKey"),
        })
    return out


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            rotate={"type": "bool", "default": False},
            ca_cert={"type": "str"},
            ca_key={"type": "str", "no_log": True},
            external_ca={"type": "list", "elements": "dict"},
            cert_expiry={"type": "raw"},
            wait={"type": "bool", "default": True},
            wait_timeout={"type": "int", "default": 300},
        ),
        mutually_exclusive=[("rotate", "ca_key")],
        supports_check_mode=True,
    )
    p = module.params
    if p["ca_key"] and not p["ca_cert"]:
        module.fail_json(msg="invalid option ca_key: it needs ca_cert (the root CA certificate it belongs to)")
    for field in ("ca_cert", "ca_key"):
        if p[field] and "-----BEGIN" not in p[field]:
            module.fail_json(msg=f"invalid option {field}: expected a PEM block (-----BEGIN ...)")
    try:
        expiry = None
        if p["cert_expiry"] is not None:
            expiry = swarm_settings.parse_cert_expiry(p["cert_expiry"], "cert_expiry")
        external_cas(p["external_ca"], p["ca_cert"])
    except ValueError as exc:
        module.fail_json(msg=f"invalid option {exc}")

    client = SwarmClient(module)
    require_manager(module, local_state(client), "manage the swarm CA")
    swarm = client.call("swarm inspect", client.api.inspect_swarm)
    old_tls = swarm.get("TLSInfo") or {}
    spec, changes, rotate = plan_ca(swarm.get("Spec") or {}, old_tls.get("TrustRoot", ""), p, expiry)
    before_expiry = swarm_settings.format_duration(((swarm.get("Spec") or {}).get("CAConfig") or {})
                                                   .get("NodeCertExpiry") or 90 * 86400 * 10**9)
    after_expiry = swarm_settings.format_duration(spec["CAConfig"].get("NodeCertExpiry") or 90 * 86400 * 10**9)
    result = {"changed": bool(changes), "rotated": rotate, "actions": changes,
              "root_ca": pem_fingerprint(old_tls.get("TrustRoot")), "cert_expiry": after_expiry}
    if changes:
        result["diff"] = {
            "before": {"root_ca": pem_fingerprint(old_tls.get("TrustRoot")), "cert_expiry": before_expiry},
            "after": {"root_ca": "(new root)" if rotate else pem_fingerprint(old_tls.get("TrustRoot")),
                      "cert_expiry": after_expiry}}
    if changes and not module.check_mode:
        def attempt():
            fresh = client.api.inspect_swarm()
            again, _chg, _rot = plan_ca(fresh.get("Spec") or {}, (fresh.get("TLSInfo") or {}).get("TrustRoot", ""),
                                        p, expiry)
            if rotate and not p.get("ca_key"):
                # a retry must not bump twice: base the bump on the spec we first read
                again["CAConfig"]["ForceRotate"] = spec["CAConfig"]["ForceRotate"]
            return client.api.update_swarm(version=fresh["Version"]["Index"], swarm_spec=again)

        # The engine parses the given PEMs; its refusal is about these options, so name them.
        given = [o for o in ("ca_cert", "ca_key", "external_ca") if p.get(o)]
        client.retry_write(f"swarm CA update ({', '.join(given)})" if given else "swarm CA update", attempt)

    last: dict = {"nodes": []}

    def probe() -> Progress:
        now = client.api.inspect_swarm()
        issuer = now.get("TLSInfo") or {}
        tls = nodes_tls(client.api.nodes(), issuer)
        last["nodes"], last["root"] = tls, issuer.get("TrustRoot")
        live = [n for n in tls if n["state"] != "down"]
        current = sum(1 for n in live if n["tls_current"])
        new_root = issuer.get("CertIssuerPublicKey") != old_tls.get("CertIssuerPublicKey")
        in_progress = bool(now.get("RootRotationInProgress"))
        done = new_root and not in_progress and current == len(live)
        return Progress(done, f"{current}/{len(live)} nodes on the {'new' if new_root else 'old'} root, "
                              f"rotation {'in progress' if in_progress else 'not in progress'}")

    if rotate and p["wait"] and not module.check_mode:
        waited = client.call("wait for the CA rotation", wait_for, probe, p["wait_timeout"], 0.5, 2.0)
        result["rotation"] = waited.as_result()
        result["nodes"] = last["nodes"]
        result["root_ca"] = pem_fingerprint(last.get("root"))
        if not waited.ok:
            module.fail_json(msg=f"the CA rotation did not finish within {p['wait_timeout']} s: "
                                 f"{waited.history[-1]}", **result)
    else:
        now = client.call("swarm inspect", client.api.inspect_swarm)
        result["nodes"] = nodes_tls(client.call("list nodes", client.api.nodes), now.get("TLSInfo") or {})
    result["local_cert_not_after"] = local_cert_not_after(p["docker_host"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
