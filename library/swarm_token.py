#!/usr/bin/python
"""swarm_token: read or rotate a swarm join token, handed to the next task without being shown."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_token
short_description: Read or rotate a swarm join token without printing it
description:
  - Reads the worker or manager join token of the swarm, or rotates one or both (the old token is
    refused by every later join; nodes already in the swarm are not affected).
  - The token is returned as I(token) only when the task is C(no_log) (Ansible then hides the whole
    result at every verbosity but registers it for the next task). Without C(no_log) the token is
    withheld and a warning says so (no warning with I(rotate), whose job is the rotation); a
    short fingerprint is always returned to compare tokens.
  - Runs on a manager.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  role:
    description: Which join token to return.
    type: str
    choices: [worker, manager]
    default: worker
  rotate:
    description:
      - Rotate this token (or C(both)) before returning I(role)'s token. Always a change.
    type: str
    choices: [none, worker, manager, both]
    default: none
notes:
  - Supports check mode (a rotation is predicted, the current token returned) and diff mode
    (fingerprints of the tokens, never the tokens).
"""

EXAMPLES = r"""
- name: Worker join token for the workers' join task
  swarm_token:
    role: worker
  register: worker_token
  no_log: true
  run_once: true
  delegate_to: "{{ groups.managers[0] }}"

- name: Rotate the manager token (e.g. after it may have leaked)
  swarm_token:
    rotate: manager
    role: manager
  no_log: true
  register: manager_token
"""

RETURN = r"""
token:
  description: The join token of I(role); only when the task is C(no_log).
  returned: when the task is no_log
  type: str
fingerprint:
  description: C(sha256:) and 12 hex digits of I(role)'s token; safe to show and compare.
  returned: always
  type: str
rotated:
  description: Which tokens were (or would be, in check mode) rotated.
  returned: always
  type: list
  elements: str
role:
  description: Which token I(token) is.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.cluster import (  # noqa: E402
    fingerprint,
    hand_over,
    local_state,
    require_manager,
)


def plan_rotation(rotate: str) -> list[str]:
    return {"none": [], "worker": ["worker"], "manager": ["manager"], "both": ["worker", "manager"]}[rotate]


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            role={"type": "str", "default": "worker", "choices": ["worker", "manager"]},
            rotate={"type": "str", "default": "none", "choices": ["none", "worker", "manager", "both"]},
        ),
        supports_check_mode=True,
    )
    p = module.params
    client = SwarmClient(module)
    require_manager(module, local_state(client), "read a join token")

    swarm = client.call("swarm inspect", client.api.inspect_swarm)
    tokens = dict(swarm.get("JoinTokens") or {})
    rotated = plan_rotation(p["rotate"])
    before = {f"{r}_token": fingerprint(tokens.get(r.capitalize())) for r in ("worker", "manager")}
    after = dict(before)
    if rotated and not module.check_mode:
        def attempt():
            fresh = client.api.inspect_swarm()
            return client.api.update_swarm(version=fresh["Version"]["Index"], swarm_spec=fresh["Spec"],
                                           rotate_worker_token="worker" in rotated,
                                           rotate_manager_token="manager" in rotated)

        client.retry_write("rotate join token", attempt)
        swarm = client.call("swarm inspect", client.api.inspect_swarm)
        tokens = dict(swarm.get("JoinTokens") or {})
        after = {f"{r}_token": fingerprint(tokens.get(r.capitalize())) for r in ("worker", "manager")}
    elif rotated:
        after.update({f"{r}_token": "(rotated)" for r in rotated})

    token = tokens.get(p["role"].capitalize())
    result = {
        "changed": bool(rotated),
        "rotated": rotated,
        "role": p["role"],
        "fingerprint": fingerprint(token),
    }
    if rotated:
        result["diff"] = {"before": before, "after": after}
    # The other token is masked always; this one is withheld (and masked) unless the task is no_log.
    for r, t in tokens.items():
        if r.lower() != p["role"] and t:
            module.no_log_values.add(t)
    if rotated and not module.no_log:
        # A rotation's result is shown, fingerprints and all; the token is masked without a warning.
        if token:
            module.no_log_values.add(token)
        handed = None
    else:
        handed = hand_over(module, token, f"{p['role']} join token")
    if handed:
        result["token"] = handed
    module.exit_json(**result)


if __name__ == "__main__":
    main()
