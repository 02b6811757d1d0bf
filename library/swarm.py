#!/usr/bin/python
"""swarm: create, join, leave a Docker swarm and reconcile its settings."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm
short_description: Create, join or leave a Docker swarm, and keep its settings as asked
description:
  - C(state=present) creates a swarm on a node that is in none (C(docker swarm init)); on a manager of
    an existing swarm it changes only the settings given and reports C(changed=false) when they
    already hold.
  - C(state=join) joins the node to a swarm as a worker or a manager (the token decides).
  - C(state=absent) leaves the swarm. A manager is demoted first so the managers left keep quorum;
    leaving is refused when it would remove the last manager or lose quorum, unless I(force=true).
    The node stays in the swarm's node list as C(down); remove it from a manager with
    M(swarm_node) C(state=absent).
  - C(state=join) on a node that is already in a swarm reports no change (a worker cannot see which
    swarm it is in, so it is not compared).
  - Settings fixed when a swarm is created (I(default_addr_pool), I(subnet_size), I(data_path_port),
    I(advertise_addr)) are only warned about when they differ on an existing swarm.
  - Join tokens and the unlock key never appear in the result; see I(unlock_key) in RETURN.
  - C(state=present) with I(force_new_cluster=true) recovers a swarm that lost quorum; this manager
    becomes the only manager of a swarm made from its own raft state (services, networks, secrets,
    nodes are kept; the other managers are dropped from raft and must leave and join again).
    Refused while the swarm still has quorum, unless I(force=true). Always a change.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  state:
    description: What the node should be.
    type: str
    choices: [present, join, absent]
    default: present
  advertise_addr:
    description:
      - Address (C(ip), C(ip:port) or interface name) other nodes use to reach this one.
      - Used by init and join.
    type: str
  listen_addr:
    description: Address the swarm listens on for cluster management traffic.
    type: str
    default: 0.0.0.0:2377
  data_path_addr:
    description: Address or interface for data path (overlay) traffic; init and join.
    type: str
  data_path_port:
    description: UDP port for VXLAN data traffic (default of the engine 4789); init only.
    type: int
  default_addr_pool:
    description: CIDRs overlay networks take their subnets from; init only.
    type: list
    elements: str
  subnet_size:
    description: Prefix length of each overlay subnet taken from I(default_addr_pool); init only.
    type: int
  cert_expiry:
    description: Validity of node certificates, e.g. C(90d), C(2160h), or seconds.
    type: raw
  dispatcher_heartbeat:
    description: How often nodes report to the dispatcher, e.g. C(5s).
    type: raw
  task_history_limit:
    description: Task history kept per service slot.
    type: int
  snapshot_interval:
    description: Raft log entries between snapshots.
    type: int
  keep_old_snapshots:
    description: Raft snapshots kept besides the current one.
    type: int
  autolock:
    description:
      - Require the unlock key to start a manager's engine again (encrypts the raft keys at rest).
      - When it is turned on, the key is returned as I(unlock_key) only if the task is C(no_log).
    type: bool
  remote_addrs:
    description: Managers to join through (C(host) or C(host:2377)); required with C(state=join).
    type: list
    elements: str
  join_token:
    description: Worker or manager join token (from M(swarm_token)); required with C(state=join).
    type: str
  force:
    description:
      - With C(state=absent), leave even when this is the last manager or it would lose quorum.
      - With I(force_new_cluster), go on even though the swarm still has quorum.
    type: bool
    default: false
  force_new_cluster:
    description:
      - With C(state=present), re-create the swarm from this manager's raft state
        (C(docker swarm init --force-new-cluster)). For recovery after quorum loss, or after
        restoring a backup of C(/var/lib/docker/swarm). Settings given are applied afterwards.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a manager to step down before it leaves.
    type: int
    default: 60
notes:
  - Supports check mode (predicts init, join, leave and each setting change) and diff mode.
"""

EXAMPLES = r"""
- name: Create the swarm on the first manager (no change if it exists with these settings)
  swarm:
    state: present
    advertise_addr: "{{ ansible_host }}"
    default_addr_pool: [10.20.0.0/16]
    subnet_size: 24
    cert_expiry: 90d
    task_history_limit: 3

- name: Read the manager join token on the first manager
  swarm_token:
    role: manager
  register: manager_token
  no_log: true

- name: Join the other managers
  swarm:
    state: join
    advertise_addr: "{{ ansible_host }}"
    remote_addrs: ["{{ hostvars[groups.managers[0]].ansible_host }}:2377"]
    join_token: "{{ manager_token.token }}"

- name: Turn autolock on and keep the key for the vault
  swarm:
    autolock: true
  register: locked
  no_log: true

- name: After losing quorum, make this surviving manager the whole control plane
  swarm:
    state: present
    force_new_cluster: true
    advertise_addr: "{{ ansible_host }}"

- name: Leave (refused if it would break quorum)
  swarm:
    state: absent
"""

RETURN = r"""
swarm_id:
  description: ID of the swarm (cluster) the node is in, empty when it is in none.
  returned: always
  type: str
node_id:
  description: This node's ID in the swarm.
  returned: always
  type: str
role:
  description: C(manager), C(worker), or C(none) after the task.
  returned: always
  type: str
actions:
  description: What was done (or would be, in check mode), in order.
  returned: always
  type: list
  elements: str
settings:
  description: The swarm settings after the task (managers only).
  returned: when the node is a manager
  type: dict
quorum:
  description: The quorum check made before a manager leaves.
  returned: with state=absent on a manager
  type: dict
unlock_key:
  description:
    - The unlock key, when this task turned autolock on and the task is C(no_log); otherwise not set.
  returned: when autolock was turned on by a no_log task
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops import swarm_settings  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec, explain  # noqa: E402
from ansible.module_utils.swarmops.cluster import hand_over, local_state, managers_of  # noqa: E402
from ansible.module_utils.swarmops.quorum import check_removal, summary  # noqa: E402
from ansible.module_utils.swarmops.wait import Progress, wait_for  # noqa: E402

INIT_ONLY = ("default_addr_pool", "subnet_size", "data_path_port")


def init_request(p: dict, spec: dict) -> dict:
    body = {"ListenAddr": p["listen_addr"], "ForceNewCluster": False, "Spec": spec}
    if p.get("advertise_addr"):
        body["AdvertiseAddr"] = p["advertise_addr"]
    if p.get("data_path_addr"):
        body["DataPathAddr"] = p["data_path_addr"]
    if p.get("data_path_port") is not None:
        body["DataPathPort"] = p["data_path_port"]
    if p.get("default_addr_pool"):
        body["DefaultAddrPool"] = p["default_addr_pool"]
    if p.get("subnet_size") is not None:
        body["SubnetSize"] = p["subnet_size"]
    return body


def join_request(p: dict) -> dict:
    body = {"ListenAddr": p["listen_addr"], "RemoteAddrs": p["remote_addrs"], "JoinToken": p["join_token"]}
    if p.get("advertise_addr"):
        body["AdvertiseAddr"] = p["advertise_addr"]
    if p.get("data_path_addr"):
        body["DataPathAddr"] = p["data_path_addr"]
    return body


NO_LEADER = ("does not have a leader", "context deadline exceeded")


def quorum_now(client) -> tuple[bool, str]:
    """(has quorum, why not): a manager without a raft leader cannot even list the nodes."""
    try:
        nodes = client.api.nodes()
    except client.errors as exc:
        if any(s in str(exc) for s in NO_LEADER):
            return False, "the swarm has no leader"
        raise
    q = summary(managers_of(nodes))
    return bool(q["has_quorum"]), f"{q['reachable']} of {q['managers']} managers reachable"


def force_new(module, client, local):
    """docker swarm init --force-new-cluster: this manager's raft state, itself the only manager."""
    p = module.params
    if local["state"] == "locked":
        module.fail_json(msg="this manager is locked (autolock): unlock it with swarm_unlock first")
    if local["state"] == "inactive":
        module.fail_json(msg="this engine is in no swarm: there is no raft state to force a new cluster from")
    if local["role"] != "manager" and local["state"] == "active":
        module.fail_json(msg="this node is a worker: force_new_cluster needs a manager's raft state")
    has_quorum, why = client.call("check quorum", quorum_now, client)
    result = {"actions": [], "changed": False, "quorum_before": why}
    if has_quorum and not p["force"]:
        module.fail_json(msg=f"refused: the swarm still has quorum ({why}); force_new_cluster would drop "
                             "the other managers. Nothing was changed (force=true overrides)", **result)
    result["changed"] = True
    result["actions"].append(f"force a new cluster from this manager's raft state ({why})")
    result["diff"] = {"before": {"managers": why}, "after": {"managers": "this node only"}}
    if module.check_mode:
        return result
    # Only the addresses: the pool, port and settings come from the raft state kept.
    body = {"ListenAddr": p["listen_addr"], "ForceNewCluster": True, "Spec": {}}
    if p.get("advertise_addr"):
        body["AdvertiseAddr"] = p["advertise_addr"]
    client.call("swarm init --force-new-cluster", client.post_json, "/swarm/init", data=body)

    def leading() -> Progress:
        ok, now = quorum_now(client)
        return Progress(ok, now)

    waited = wait_for(leading, timeout=p["timeout"], interval=0.5, max_interval=2.0)
    result["wait"] = waited.as_result()
    if not waited.ok:
        module.fail_json(msg="forced a new cluster, but this manager did not lead it in time", **result)
    return result


def present(module, client, local, wanted):
    p = module.params
    if p["force_new_cluster"]:
        result = force_new(module, client, local)
        if module.check_mode:
            return result
        local = local_state(client)
        more = reconcile(module, client, local, wanted)
        result["actions"] += more.get("actions", [])
        if "unlock_key" in more:
            result["unlock_key"] = more["unlock_key"]
        result["settings"] = more.get("settings")
        return result
    return reconcile(module, client, local, wanted)


def reconcile(module, client, local, wanted):
    """Init a swarm on a node in none; on a manager, the settings asked for."""
    p = module.params
    result = {"actions": []}
    if local["state"] == "inactive":
        spec = swarm_settings.init_spec(wanted)
        result["actions"].append("init a new swarm")
        result["changed"] = True
        result["diff"] = {"before": {"swarm": "none"},
                          "after": {"swarm": "new", "role": "manager", **swarm_settings.shown(wanted)}}
        if not module.check_mode:
            client.call("swarm init", client.post_json, "/swarm/init", data=init_request(p, spec))
            if wanted.get("autolock"):
                key = client.call("read the unlock key", client.api.get_unlock_key).get("UnlockKey")
                result["unlock_key"] = hand_over(module, key, "unlock key")
        return result
    if local["state"] == "locked":
        module.fail_json(msg="this manager is locked (autolock): unlock it with swarm_unlock first")
    if local["state"] != "active":
        module.fail_json(msg=f"the engine's swarm state is {local['state']}: {local['error'] or 'not usable'}")
    if local["role"] != "manager":
        given = [k for k in (*swarm_settings.SETTING_NAMES, *INIT_ONLY) if p.get(k) is not None]
        if given:
            module.fail_json(msg=f"this node is a worker of swarm {local['cluster_id']}: set "
                                 f"{', '.join(given)} on a manager")
        result["changed"] = False
        return result
    swarm = client.call("swarm inspect", client.api.inspect_swarm)
    for warning in swarm_settings.init_only_mismatches(swarm, local["node_addr"], p):
        module.warn(warning)
    before = swarm_settings.current(swarm.get("Spec") or {})
    _spec, changes = swarm_settings.plan(swarm.get("Spec") or {}, wanted)
    result["changed"] = bool(changes)
    result["settings"] = before
    if not changes:
        return result
    after = dict(before)
    for c in changes:
        after[c["setting"]] = c["after"]
        result["actions"].append(f"set {c['setting']} from {c['before']} to {c['after']}")
    result["diff"] = {"before": before, "after": after}
    result["settings"] = after
    if module.check_mode:
        return result

    def attempt():
        fresh = client.api.inspect_swarm()
        spec, _changes = swarm_settings.plan(fresh.get("Spec") or {}, wanted)
        return client.api.update_swarm(version=fresh["Version"]["Index"], swarm_spec=spec)

    client.retry_write("swarm update", attempt)
    if any(c["setting"] == "autolock" and c["after"] is True for c in changes):
        key = client.call("read the unlock key", client.api.get_unlock_key).get("UnlockKey")
        result["unlock_key"] = hand_over(module, key, "unlock key")
    return result


def join(module, client, local):
    result = {"actions": [], "changed": False}
    if local["state"] == "active":
        return result  # already a member: which swarm is not visible from a worker, nothing to do
    if local["state"] == "locked":
        module.fail_json(msg="this node is a locked manager: unlock it with swarm_unlock first")
    if local["state"] not in ("inactive",):
        module.fail_json(msg=f"cannot join: the engine's swarm state is {local['state']} "
                             f"({local['error'] or 'a join may be under way'})")
    result["changed"] = True
    result["actions"].append(f"join the swarm through {', '.join(module.params['remote_addrs'])}")
    result["diff"] = {"before": {"swarm": "none"}, "after": {"swarm": "joined"}}
    if not module.check_mode:
        try:
            client.post_json("/swarm/join", data=join_request(module.params))
        except client.errors as exc:
            module.fail_json(msg=failed_join(client, module.params, exc))
    return result


def failed_join(client, p, exc) -> str:
    """The message of a failed join, after undoing what the engine keeps trying: a join
    that timed out goes on in the background (state pending), so the node would join
    later, unasked, or stay stuck. A forced leave cancels it and leaves the node as it was."""
    msg = (f"swarm join through {', '.join(p['remote_addrs'])} failed (check remote_addrs and "
           f"join_token): {explain(exc)}")
    if local_state(client)["state"] == "pending":
        try:
            client.api.leave_swarm(force=True)
            msg += "; the join the engine kept trying in the background was cancelled"
        except client.errors as leave_exc:
            msg += f"; the engine keeps trying to join and could not be stopped: {explain(leave_exc)}"
    return msg


def absent(module, client, local):
    p = module.params
    result = {"actions": [], "changed": False}
    if local["state"] == "inactive":
        return result
    result["changed"] = True
    result["diff"] = {"before": {"swarm": local["cluster_id"] or "member", "role": local["role"]},
                      "after": {"swarm": "none", "role": "none"}}
    if local["role"] != "manager":
        if local["state"] == "locked" and not p["force"]:
            module.fail_json(msg="this manager is locked: unlock it first, or leave with force=true")
        result["actions"].append("leave the swarm")
        if not module.check_mode:
            client.call("swarm leave", client.api.leave_swarm, force=p["force"])
        return result
    try:
        nodes = client.api.nodes()
    except client.errors as exc:
        # No leader (quorum lost, e.g. a manager of a group left behind by a recovery): the
        # managers cannot be read, so nothing can be checked; only a forced leave goes on.
        if not p["force"]:
            module.fail_json(msg=f"refused: the managers cannot be read ({explain(exc)}); nothing was changed "
                                 "(force=true leaves anyway)")
        result["actions"].append(f"force-leave the swarm (the managers cannot be read: {explain(exc)})")
        if not module.check_mode:
            client.call("swarm leave", client.api.leave_swarm, force=True)
        return result
    check = check_removal(managers_of(nodes), local["node_id"], "leaving from")
    result["quorum"] = check.as_dict()
    if not check.ok and not p["force"]:
        module.fail_json(msg=f"refused: {check.reason}; nothing was changed (force=true overrides)",
                         quorum=check.as_dict())
    if p["force"] and not check.ok:
        result["actions"].append(f"force-leave the swarm ({check.reason})")
        if not module.check_mode:
            client.call("swarm leave", client.api.leave_swarm, force=True)
        return result
    result["actions"] += ["demote this manager", "leave the swarm"]
    if module.check_mode:
        return result

    def attempt():
        node = client.api.inspect_node(local["node_id"])
        spec = dict(node["Spec"], Role="worker")
        return client.api.update_node(local["node_id"], node["Version"]["Index"], spec)

    client.retry_write("demote this manager", attempt)

    def stepped_down() -> Progress:
        now = local_state(client)
        return Progress(now["role"] != "manager", f"role {now['role']}")

    waited = wait_for(stepped_down, timeout=p["timeout"], interval=0.2, max_interval=1.0)
    if not waited.ok:
        module.fail_json(msg="this manager was demoted but did not step down in time; it has not left",
                         **result, **waited.as_result())
    client.call("swarm leave", client.api.leave_swarm, force=False)
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            state={"type": "str", "default": "present", "choices": ["present", "join", "absent"]},
            advertise_addr={"type": "str"},
            listen_addr={"type": "str", "default": "0.0.0.0:2377"},
            data_path_addr={"type": "str"},
            data_path_port={"type": "int"},
            default_addr_pool={"type": "list", "elements": "str"},
            subnet_size={"type": "int"},
            cert_expiry={"type": "raw"},
            dispatcher_heartbeat={"type": "raw"},
            task_history_limit={"type": "int"},
            snapshot_interval={"type": "int"},
            keep_old_snapshots={"type": "int"},
            autolock={"type": "bool"},
            remote_addrs={"type": "list", "elements": "str"},
            join_token={"type": "str", "no_log": True},
            force={"type": "bool", "default": False},
            force_new_cluster={"type": "bool", "default": False},
            timeout={"type": "int", "default": 60},
        ),
        required_if=[("state", "join", ("remote_addrs", "join_token"))],
        supports_check_mode=True,
    )
    p = module.params
    try:
        wanted = swarm_settings.validate(p)
        swarm_settings.validate_network_options(p)
    except ValueError as exc:
        module.fail_json(msg=f"invalid option {exc}")
    if p["state"] == "join" and not p["join_token"].startswith("SWMTKN-1-"):
        module.fail_json(msg="invalid option join_token: expected a swarm join token (SWMTKN-1-...), "
                             "as returned by swarm_token")
    if p["force_new_cluster"] and p["state"] != "present":
        module.fail_json(msg="invalid option force_new_cluster: only allowed with state=present")
    if p["state"] != "present":
        given = [k for k in (*swarm_settings.SETTING_NAMES, *INIT_ONLY) if p.get(k) is not None]
        if given:
            module.fail_json(msg=f"invalid option {', '.join(given)}: settings are only allowed with "
                                 "state=present (allowed states: present, join, absent)")

    client = SwarmClient(module)
    local = local_state(client)
    if p["state"] == "present":
        result = present(module, client, local, wanted)
    elif p["state"] == "join":
        result = join(module, client, local)
    else:
        result = absent(module, client, local)

    if result.get("changed") and not module.check_mode:
        local = local_state(client)
    result.setdefault("changed", False)
    result.update(swarm_id=local["cluster_id"], node_id=local["node_id"], role=local["role"])
    if result.get("unlock_key") is None:
        result.pop("unlock_key", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
