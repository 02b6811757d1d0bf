#!/usr/bin/python
"""swarm_service: create, update, scale, roll back and remove a Docker Swarm service."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_service
short_description: Create, update, scale, roll back and remove a Docker Swarm service, and wait for it
description:
  - Compares the options you give with the service's current spec field by field (options you
    leave out keep their current value) and updates only when something differs; the diff lists
    each changed field.
  - With I(wait) (the default) waits, bounded by I(wait_timeout), until the service converges
    (every desired task C(running) on the new spec, or the job complete), and returns the tasks
    with their states and the update status. A rollout the engine pauses or rolls back fails the
    task with a message naming the failing tasks and their errors. A service no node can take
    (a constraint or reservation nothing satisfies) fails at once as C(pending) with the
    scheduler's reason instead of waiting for the timeout.
  - I(state=rolled_back) asks the engine to roll the service back to its previous spec (as
    C(docker service rollback)).
  - Services that belong to a stack (label C(com.docker.stack.namespace)) are left to
    M(swarm_stack); this module refuses to change them.
  - Run it on a manager.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  name:
    description: Service name.
    type: str
    required: true
  state:
    description:
      - C(present) creates or updates the service, C(absent) removes it, C(rolled_back) rolls it
        back to its previous spec (a no-op when its last update already was a rollback).
    type: str
    choices: [present, absent, rolled_back]
    default: present
  image:
    description: Image reference; required to create. A digest the engine pins is ignored when comparing.
    type: str
  command:
    description: Entrypoint override, a list or a string split like a shell.
    type: raw
  args:
    description: Arguments to the command, a list or a string split like a shell.
    type: raw
  env:
    description: Environment, a dict or a list of C(KEY=VALUE). Replaces the whole environment.
    type: raw
  user:
    description: User the container runs as.
    type: str
  workdir:
    description: Working directory in the container.
    type: str
  hostname:
    description: Container hostname (Go templates such as C({{.Node.Hostname}}) allowed).
    type: str
  container_labels:
    description: Labels of the containers (not of the service).
    type: dict
  stop_grace_period:
    description: Time to wait for a task to stop before killing it, e.g. C(10s).
    type: str
  mode:
    description:
      - C(replicated) (I(replicas) tasks), C(global) (one task per eligible node),
        C(replicated-job) or C(global-job) (swarm jobs that run to completion).
      - The engine cannot change the mode of an existing service.
      - Defaults to the current mode, or C(replicated) for a new service.
    type: str
    choices: [replicated, global, replicated-job, global-job]
  replicas:
    description: Number of tasks of a C(replicated) service (default 1 for a new service). Not valid with other modes.
    type: int
  max_concurrent:
    description: For C(replicated-job), how many tasks run at once (default 1).
    type: int
  total_completions:
    description: For C(replicated-job), how many tasks must complete (default I(max_concurrent)).
    type: int
  limits:
    description: Resource limits per task.
    type: dict
    suboptions:
      cpus:
        description: CPUs, e.g. C(0.5).
        type: str
      memory:
        description: Memory, e.g. C(64M), C(1G).
        type: str
  reservations:
    description: Resources each task reserves; a task no node has room for stays C(pending).
    type: dict
    suboptions:
      cpus:
        description: CPUs, e.g. C(0.5).
        type: str
      memory:
        description: Memory, e.g. C(64M), C(1G).
        type: str
  constraints:
    description: Placement constraints, e.g. C(node.role==worker), C(node.labels.zone!=b).
    type: list
    elements: str
  placement_preferences:
    description: 'Spread preferences, as C(spread=node.labels.zone) or a dict C({spread: node.labels.zone}).'
    type: list
    elements: raw
  max_replicas_per_node:
    description: At most this many tasks of the service per node (0 = no limit).
    type: int
  publish:
    description:
      - Published ports. Each item is C(PUBLISHED:TARGET[/tcp|udp|sctp]), C(TARGET), or a dict
        with C(published), C(target), C(protocol) (tcp, udp, sctp; default tcp) and C(mode)
        (C(ingress), the routing mesh, the default; or C(host), bound on the node running the task).
      - A fixed host-mode port can be bound once per node; more replicas than eligible nodes are
        refused unless I(force).
      - Replaces the whole list.
    type: list
    elements: raw
  endpoint_mode:
    description: C(vip) (a virtual IP, the default) or C(dnsrr) (DNS round robin over the task addresses).
    type: str
    choices: [vip, dnsrr]
  networks:
    description: Networks to attach, by name or id; items may be dicts with C(name) and C(aliases).
    type: list
    elements: raw
  mounts:
    description: Mounts, each a dict with C(target), C(source), C(type) (volume, bind, tmpfs) and C(readonly).
    type: list
    elements: dict
  secrets:
    description:
      - Secrets to mount under C(/run/secrets/), by name or as dicts with C(name), C(target)
        (file name, default the name), C(uid), C(gid), C(mode) (octal string, default C(0444)).
      - A name that M(swarm_secret) versions resolves to its newest version, mounted under the plain name.
    type: list
    elements: raw
  configs:
    description: Configs to mount, like I(secrets) (the target is a path or file name).
    type: list
    elements: raw
  labels:
    description: Service labels. Replaces all labels.
    type: dict
  healthcheck:
    description: Container health check.
    type: dict
    suboptions:
      test:
        description: A shell command string, or the API's list form (C([CMD, ...]), C([NONE])).
        type: raw
      interval:
        description: Time between checks, e.g. C(5s).
        type: str
      timeout:
        description: Time one check may take.
        type: str
      retries:
        description: Failures in a row that make the container unhealthy.
        type: int
      start_period:
        description: Grace period after start.
        type: str
  restart_policy:
    description: When the engine restarts a task's container.
    type: dict
    suboptions:
      condition:
        description: When to restart.
        type: str
        choices: [none, on-failure, any]
      delay:
        description: Delay between restarts, e.g. C(5s).
        type: str
      max_attempts:
        description: Restarts before giving up (0 = no limit).
        type: int
      window:
        description: Window used to judge whether a restart succeeded.
        type: str
  update_config:
    description: How a rolling update proceeds.
    type: dict
    suboptions:
      parallelism:
        description: Tasks updated at once (0 = all at once).
        type: int
      delay:
        description: Wait between batches, e.g. C(10s).
        type: str
      failure_action:
        description: What the engine does when tasks of the update fail.
        type: str
        choices: [continue, pause, rollback]
      monitor:
        description: How long after a task's update to watch it for failure.
        type: str
      max_failure_ratio:
        description: Fraction of failing tasks tolerated, 0 to 1.
        type: float
      order:
        description: Stop the old task first, or start the new one first.
        type: str
        choices: [stop-first, start-first]
  rollback_config:
    description: How a rollback proceeds; like I(update_config), with I(failure_action) C(continue) or C(pause).
    type: dict
    suboptions:
      parallelism:
        description: Tasks rolled back at once (0 = all at once).
        type: int
      delay:
        description: Wait between batches.
        type: str
      failure_action:
        description: What the engine does when the rollback fails.
        type: str
        choices: [continue, pause]
      monitor:
        description: How long after a task's rollback to watch it.
        type: str
      max_failure_ratio:
        description: Fraction of failing tasks tolerated, 0 to 1.
        type: float
      order:
        description: Stop the old task first, or start the new one first.
        type: str
        choices: [stop-first, start-first]
  force_update:
    description: Replace every task even when the spec is unchanged (always reports a change).
    type: bool
    default: false
  force:
    description: Accept a fixed host-mode port with more replicas than eligible nodes.
    type: bool
    default: false
  wait:
    description: Wait for the service to converge (or the job to complete).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most; the task fails on timeout, naming what was still missing.
    type: int
    default: 120
notes:
  - Options are compared after normalisation (durations, sizes, port defaults, env as a dict,
    constraints as a set), so C(10s) and C(10000ms) are the same value.
  - Supports check mode (the plan and its diff, nothing sent) and diff mode.
"""

EXAMPLES = r"""
- name: Three web replicas on a host-mode port, rolled one at a time
  swarm_service:
    name: web
    image: swarmops/probe:2
    replicas: 3
    publish:
      - {published: 8080, target: 80, mode: host}
    constraints: [node.role==worker]
    update_config: {parallelism: 1, delay: 5s, failure_action: rollback, monitor: 5s}

- name: Scale
  swarm_service:
    name: web
    replicas: 5

- name: Undo the last update
  swarm_service:
    name: web
    state: rolled_back

- name: A dnsrr service on an overlay, reached as tasks.api
  swarm_service:
    name: api
    image: swarmops/probe:1
    endpoint_mode: dnsrr
    networks: [backend]
    secrets: [{name: db_password, mode: "0400"}]

- name: Remove
  swarm_service:
    name: web
    state: absent
"""

RETURN = r"""
action:
  description: What was (or in check mode would be) done.
  returned: always
  type: str
  sample: update
changes:
  description: Changed fields with their normalised values before and after.
  returned: always
  type: list
  elements: dict
  sample: [{field: image, before: "swarmops/probe:1", after: "swarmops/probe:2"}]
service:
  description: The service after the change (absent when removed or not created in check mode).
  returned: when the service exists
  type: dict
  contains:
    id: {description: Service id., type: str}
    name: {description: Name., type: str}
    image: {description: Image of the current spec., type: str}
    mode: {description: "replicated, global, replicated-job or global-job.", type: str}
    replicas_desired: {description: Desired tasks (completions for a replicated job)., type: int}
    replicas_running: {description: Tasks running., type: int}
    update_status: {description: "The engine's update status: state (updating, paused, completed,
      rollback_started, rollback_paused, rollback_completed) and message.", type: dict}
    stack: {description: "The stack the service belongs to, if any.", type: str}
    task_states: {description: Count of desired tasks per state., type: dict}
    tasks:
      description: Desired tasks with slot, node, state, desired_state, message, error, exit_code, image.
      type: list
      elements: dict
    failed_tasks: {description: The most recent failed or rejected tasks., type: list, elements: dict}
wait:
  description: How the wait went, with waited (seconds), polls, progress (distinct summaries in order) and timed_out.
  returned: when it waited
  type: dict
status:
  description: >-
    converged, unchanged, pending, failed, timed_out, submitted (with wait false), removed, absent,
    or planned (check mode).
  returned: always
  type: str
"""

from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.service import (  # noqa: E402
    SERVICE_OPTIONS,
    apply,
    find_service,
    node_names,
    plan,
    plan_context,
    service_facts,
    service_tasks,
    wait_converged,
)
from ansible.module_utils.swarmops.spec import diff_text  # noqa: E402


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**SERVICE_OPTIONS), supports_check_mode=True)
    p = module.params
    name = p["name"]
    client = SwarmClient(module)

    current = find_service(client, name)
    the_plan = plan(p, current, plan_context(client, p, current))
    changes = the_plan["changes"]
    result: dict = {"action": the_plan["action"], "changes": changes, "changed": the_plan["action"] != "none"}
    before, after = diff_text(changes)
    result["diff"] = {"before": before, "after": after, "before_header": name, "after_header": name}
    if the_plan["error"]:
        module.fail_json(msg=the_plan["error"], **result)

    if module.check_mode or (the_plan["action"] == "none" and (current is None or not p["wait"])):
        result["status"] = "planned" if result["changed"] else ("unchanged" if current else "absent")
        if current is not None:
            result["service"] = service_facts(current, service_tasks(client, current["ID"]), node_names(client))
        module.exit_json(**result)

    # Unchanged: nothing to send, but still report (and wait for) a converged service. Its spec
    # is what was asked for, however it got there (a finished rollback included).
    sid = apply(client, the_plan, current, name) if the_plan["action"] != "none" else current["ID"]
    if sid is None:
        result["status"] = "removed"
        module.exit_json(**result)

    names = node_names(client)
    if not p["wait"]:
        service = client.call("inspecting service", client.api.inspect_service, sid)
        result["status"] = "submitted"
        result["service"] = service_facts(service, service_tasks(client, sid), names)
        module.exit_json(**result)

    waited, service, tasks = wait_converged(client, sid, p["wait_timeout"],
                                            expect_rollback=the_plan["action"] in ("rollback", "none"))
    result["wait"] = waited.as_result()
    result["service"] = service_facts(service, tasks, names)
    problem = outcome(result, waited, name, p["wait_timeout"])
    if problem:
        module.fail_json(msg=problem, **result)
    module.exit_json(**result)


def outcome(result: dict, waited: Any, name: str, timeout: int) -> str | None:
    """Set the result's status from how the wait ended; return the failure message, if any."""
    last = waited.last
    if waited.ok:
        result["status"] = "converged" if result["changed"] else "unchanged"
        return None
    if last.failed.startswith("pending"):
        result["status"] = "pending"
        result["pending_reason"] = last.data.get("pending_reason")
        return f"service {name} is pending: no node can take its tasks: {last.data.get('pending_reason')}"
    if last.failed:
        result["status"] = "failed"
        return f"service {name}: {last.failed}"
    result["status"] = "timed_out"
    return f"service {name} did not converge within {timeout}s: {last.summary}"


if __name__ == "__main__":
    main()
