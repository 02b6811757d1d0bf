#!/usr/bin/python
"""swarm_unlock: unlock an autolocked manager after its engine restarted; rotate the unlock key."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_unlock
short_description: Unlock an autolocked swarm manager, or rotate the unlock key
description:
  - With autolock on, a manager whose engine restarted stays C(locked) until it is given the unlock
    key. This module unlocks it (a no-op on a manager that is not locked) and waits until it is
    active again.
  - I(rotate=true) makes a new unlock key (always a change); the new key is returned as
    I(unlock_key) only when the task is C(no_log), so it can be stored in a vault by the next task.
    Managers that are locked afterwards need the new key.
  - The key is never printed; a fingerprint is returned instead.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  unlock_key:
    description:
      - The unlock key (C(SWMKEY-1-...)), e.g. from a vault variable. Needed to unlock.
      - On an unlocked manager it is checked against the current key (I(key_current)).
    type: str
  rotate:
    description: Rotate the unlock key (on an unlocked manager with autolock on).
    type: bool
    default: false
  read_key:
    description:
      - Return the current unlock key as I(unlock_key) (e.g. to put it in a vault, or with a backup).
      - Only a C(no_log) task gets it; otherwise it is withheld with a warning.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for the manager to be active after unlocking.
    type: int
    default: 60
notes:
  - Supports check mode and diff mode (fingerprints, never keys).
"""

EXAMPLES = r"""
- name: Unlock managers after an engine restart
  swarm_unlock:
    unlock_key: "{{ vault_swarm_unlock_key }}"
  no_log: true

- name: Read the current key for the backup's vault entry
  swarm_unlock:
    read_key: true
  register: current_key
  no_log: true
  run_once: true

- name: Rotate the unlock key and keep the new one
  swarm_unlock:
    rotate: true
  register: new_key
  no_log: true
  run_once: true
"""

RETURN = r"""
unlocked:
  description: Whether this task unlocked the manager (or would, in check mode).
  returned: always
  type: bool
rotated:
  description: Whether the unlock key was (or would be) rotated.
  returned: always
  type: bool
key_current:
  description: Whether the given I(unlock_key) is the swarm's current key.
  returned: when unlock_key is given to an unlocked manager
  type: bool
fingerprint:
  description: C(sha256:) and 12 hex digits of the current key; safe to show.
  returned: on an unlocked manager with autolock on
  type: str
unlock_key:
  description: The new key after a rotation, or the current one with I(read_key); only when the task is C(no_log).
  returned: after a rotation or with read_key, by a no_log task
  type: str
state:
  description: This node's swarm state after the task (C(active), C(locked), ...).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.cluster import fingerprint, hand_over, local_state  # noqa: E402
from ansible.module_utils.swarmops.wait import Progress, wait_for  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            unlock_key={"type": "str", "no_log": True},
            rotate={"type": "bool", "default": False},
            read_key={"type": "bool", "default": False},
            timeout={"type": "int", "default": 60},
        ),
        supports_check_mode=True,
    )
    p = module.params
    key = p["unlock_key"]
    if key is not None and not key.startswith("SWMKEY-1-"):
        module.fail_json(msg="invalid option unlock_key: expected a swarm unlock key (SWMKEY-1-...)")
    client = SwarmClient(module)
    local = local_state(client)
    result = {"changed": False, "unlocked": False, "rotated": False}

    if local["state"] == "locked":
        if not key:
            module.fail_json(msg="this manager is locked: give unlock_key to unlock it", state="locked")
        if p["rotate"]:
            module.fail_json(msg="rotate needs an unlocked manager: unlock this one first (or rotate on another)")
        result.update(changed=True, unlocked=True, diff={"before": {"state": "locked"}, "after": {"state": "active"}})
        if module.check_mode:
            module.exit_json(state="locked", **result)
        client.call("unlock the swarm", client.post_json, "/swarm/unlock", data={"UnlockKey": key})

        def active() -> Progress:
            now = local_state(client)
            return Progress(now["state"] == "active", f"state {now['state']}")

        waited = wait_for(active, timeout=p["timeout"], interval=0.2, max_interval=1.0)
        result["wait"] = waited.as_result()
        if not waited.ok:
            module.fail_json(msg="unlocked, but the manager did not become active in time", **result)
        module.exit_json(state="active", **result)

    if local["state"] != "active" or local["role"] != "manager":
        if p["rotate"]:
            module.fail_json(msg=f"rotate needs an unlocked manager; this node is {local['state']}/{local['role']}")
        module.exit_json(state=local["state"], **result)

    swarm = client.call("swarm inspect", client.api.inspect_swarm)
    autolock = bool(((swarm.get("Spec") or {}).get("EncryptionConfig") or {}).get("AutoLockManagers"))
    if not autolock:
        if p["rotate"]:
            module.fail_json(msg="autolock is off: there is no unlock key to rotate "
                                 "(turn it on with swarm autolock=true)")
        module.exit_json(state="active", autolock=False, **result)
    current = client.call("read the unlock key", client.api.get_unlock_key).get("UnlockKey")
    if p["read_key"] and not p["rotate"]:
        handed = hand_over(module, current, "unlock key")
        if handed:
            result["unlock_key"] = handed
    else:
        module.no_log_values.add(current)
    if key:
        result["key_current"] = key == current
    result["fingerprint"] = fingerprint(current)
    if p["rotate"]:
        result.update(changed=True, rotated=True)
        after = "(rotated)"
        if not module.check_mode:
            def attempt():
                fresh = client.api.inspect_swarm()
                return client.api.update_swarm(version=fresh["Version"]["Index"], swarm_spec=fresh["Spec"],
                                               rotate_manager_unlock_key=True)

            client.retry_write("rotate the unlock key", attempt)
            new = client.call("read the unlock key", client.api.get_unlock_key).get("UnlockKey")
            after = fingerprint(new)
            result["fingerprint"] = after
            handed = hand_over(module, new, "new unlock key")
            if handed:
                result["unlock_key"] = handed
        result["diff"] = {"before": {"unlock_key": fingerprint(current)}, "after": {"unlock_key": after}}
    module.exit_json(state="active", autolock=True, **result)


if __name__ == "__main__":
    main()
