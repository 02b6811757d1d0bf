"""The bad-input table: invalid inputs to the modules and to the roles' variables.

Each case is data: where it runs (the shared converged lab, or the small `single` lab with
one manager, one worker and an outsider), what it runs (one module task, or one role with
variables), and substrings its error message must contain (the field it names and, where
there is a fixed set, the allowed values). test_bad_input.py runs every row and also checks
that nothing on any host changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # "module" or "role"
    target: str  # module or role name
    args: dict  # module arguments, or role variables
    expect: tuple[str, ...]  # substrings of the error message
    hosts: str = "manager1"
    lab: str = "shared"  # "shared" (3 managers, 2 workers, lb1, outsider1) or "single"
    xfail: str = ""  # reason, when the case shows a bug not fixed here
    extra: dict = field(default_factory=dict)  # keys added to the task (e.g. timeout)


PROBE = {"name": "badsvc", "image": "swarmops/probe:1"}
GARBAGE_PEM = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
GARBAGE_KEY = "-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n-----END EC PRIVATE KEY-----\n"

CASES: list[Case] = [
    # swarm_node ---------------------------------------------------------------------------
    Case("node-unknown", "module", "swarm_node", {"node": "nosuch", "availability": "drain"},
         ("node", "nosuch")),
    Case("node-bad-availability", "module", "swarm_node", {"node": "worker1", "availability": "sleepy"},
         ("availability", "active, pause, drain")),
    Case("node-bad-role", "module", "swarm_node", {"node": "worker1", "role": "boss"},
         ("role", "manager, worker")),
    Case("node-labels-not-a-dict", "module", "swarm_node", {"node": "worker1", "labels": ["zone=a"]},
         ("labels", "dict")),
    Case("node-negative-wait-timeout", "module", "swarm_node",
         {"node": "worker1", "availability": "drain", "wait_timeout": -5}, ("wait_timeout", "0 or more")),
    Case("node-demote-last-manager", "module", "swarm_node", {"node": "manager1", "role": "worker"},
         ("refused", "manager"), lab="single"),
    # swarm ----------------------------------------------------------------------------------
    Case("swarm-leave-last-manager", "module", "swarm", {"state": "absent"},
         ("refused", "force"), lab="single"),
    Case("swarm-negative-task-history", "module", "swarm", {"state": "present", "task_history_limit": -1},
         ("task_history_limit",)),
    Case("swarm-cert-expiry-too-short", "module", "swarm", {"state": "present", "cert_expiry": "10m"},
         ("cert_expiry",)),
    Case("swarm-bad-heartbeat", "module", "swarm", {"state": "present", "dispatcher_heartbeat": "often"},
         ("dispatcher_heartbeat",)),
    Case("swarm-data-path-port-range", "module", "swarm", {"state": "present", "data_path_port": 70000},
         ("data_path_port",)),
    Case("swarm-negative-timeout", "module", "swarm", {"state": "present", "timeout": -1}, ("timeout", "0 or more")),
    Case("swarm-join-malformed-token", "module", "swarm",
         {"state": "join", "remote_addrs": ["{{ hostvars['manager1'].ansible_host }}:2377"], "join_token": "abc"},
         ("join_token", "SWMTKN-1-..."), hosts="outsider1", lab="single"),
    Case("swarm-join-wrong-token", "module", "swarm",
         {"state": "join", "remote_addrs": ["{{ hostvars['manager1'].ansible_host }}:2377"],
          "join_token": "SWMTKN-1-3lh8b7ncv4v2vkxm6r0dpmc0w3an8uqo4a4usw1vxgq3c2aflp"
                        "-0123456789abcdefghijklmno"},
         ("join", "remote_addrs", "join_token"), hosts="outsider1", lab="single"),
    Case("swarm-join-unreachable-manager", "module", "swarm",
         {"state": "join", "remote_addrs": ["{{ ansible_host | regex_replace('[.][0-9]+$', '.99') }}:2377"],
          "join_token": "SWMTKN-1-3lh8b7ncv4v2vkxm6r0dpmc0w3an8uqo4a4usw1vxgq3c2aflp-0123456789abcdefghijklmno",
          "timeout": 20},
         ("join", "remote_addrs", "cancelled"), hosts="outsider1", lab="single"),
    # swarm_service --------------------------------------------------------------------------
    Case("service-bad-name", "module", "swarm_service", {**PROBE, "name": "bad name!"}, ("name",)),
    Case("service-replicas-with-global", "module", "swarm_service", {**PROBE, "mode": "global", "replicas": 3},
         ("replicas", "replicated")),
    Case("service-bad-port-string", "module", "swarm_service", {**PROBE, "publish": ["80:http"]},
         ("publish", "bad port")),
    Case("service-port-out-of-range", "module", "swarm_service",
         {**PROBE, "publish": [{"published": 70000, "target": 80}]}, ("publish", "1-65535")),
    Case("service-bad-port-protocol", "module", "swarm_service", {**PROBE, "publish": ["8081:80/icmp"]},
         ("publish",)),
    Case("service-bad-restart-condition", "module", "swarm_service",
         {**PROBE, "restart_policy": {"condition": "sometimes"}}, ("condition", "none, on-failure, any")),
    Case("service-negative-parallelism", "module", "swarm_service",
         {**PROBE, "update_config": {"parallelism": -1}}, ("parallelism", "negative")),
    Case("service-negative-wait-timeout", "module", "swarm_service", {**PROBE, "wait_timeout": -1},
         ("wait_timeout", "0 or more")),
    Case("service-bad-duration", "module", "swarm_service", {**PROBE, "stop_grace_period": "a while"},
         ("stop_grace_period", "duration")),
    Case("service-bad-constraint", "module", "swarm_service", {**PROBE, "constraints": ["node.role=worker"]},
         ("constraints",)),
    Case("service-bad-memory", "module", "swarm_service", {**PROBE, "limits": {"memory": "lots"}},
         ("memory",)),
    # An update of the running sample service with one bad field leaves it as it was.
    Case("service-update-bad-port", "module", "swarm_service",
         {"name": "probe", "image": "swarmops/probe:2", "mode": "global", "publish": ["8080:80/tcp:x"]},
         ("publish",)),
    # swarm_network ------------------------------------------------------------------------------
    Case("network-unknown-driver", "module", "swarm_network", {"name": "badnet", "driver": "nosuchdriver"},
         ("driver", "nosuchdriver")),
    Case("network-bad-subnet", "module", "swarm_network", {"name": "badnet", "subnet": "10.0.0.0/33"},
         ("subnet",)),
    # swarm_secret / swarm_config ---------------------------------------------------------------------
    Case("secret-data-and-src", "module", "swarm_secret", {"name": "badsecret", "data": "not-so-secret-data",
                                                          "src": "/etc/hostname"},
         ("data", "src", "mutually exclusive")),
    Case("secret-no-content", "module", "swarm_secret", {"name": "badsecret"}, ("data", "src")),
    Case("config-data-and-src", "module", "swarm_config", {"name": "badconfig", "data": "some-config-data",
                                                          "src": "/etc/hostname"},
         ("data", "src", "mutually exclusive")),
    # swarm_ca -------------------------------------------------------------------------------------
    Case("ca-garbage-pem", "module", "swarm_ca", {"ca_cert": GARBAGE_PEM, "ca_key": GARBAGE_KEY},
         ("ca_cert",)),
    Case("ca-bad-cert-expiry", "module", "swarm_ca", {"cert_expiry": "-1h"}, ("cert_expiry",)),
    # swarm_token / swarm_unlock / swarm_stack / iptables_chain ---------------------------------------
    Case("token-bad-role", "module", "swarm_token", {"role": "admin"}, ("role", "worker, manager")),
    Case("unlock-rotate-without-autolock", "module", "swarm_unlock", {"rotate": True}, ("autolock",)),
    Case("stack-bad-port", "module", "swarm_stack",
         {"name": "badstack", "compose": {"services": {"web": {"image": "swarmops/probe:1", "ports": ["80:http"]}}}},
         ("badstack_web", "publish", "bad port")),
    Case("iptables-bad-table", "module", "iptables_chain", {"chain": "SWARMOPS-BAD", "table": "nat"},
         ("table", "filter, raw, mangle")),
    Case("iptables-bad-rule", "module", "iptables_chain",
         {"chain": "SWARMOPS-INPUT", "rules": ["-p tcp --dport notaport -j ACCEPT"], "jump_from": ["INPUT"]},
         ("notaport",)),
    # Role variables (through the roles' argument specs and asserts) --------------------------------------
    Case("role-firewall-backend", "role", "swarm_firewall", {"swarm_firewall_backend": "firewalld"},
         ("swarm_firewall_backend", "iptables", "nftables", "ufw"), hosts="manager1"),
    Case("role-firewall-cidrs-miss-node", "role", "swarm_firewall",
         {"swarm_firewall_cluster_cidrs": ["192.168.77.0/24"]}, ("swarm_firewall_cluster_cidrs",),
         hosts="manager1"),
    Case("role-firewall-cidr-garbage", "role", "swarm_firewall",
         {"swarm_firewall_cluster_cidrs": ["not-a-network"]},
         ("swarm_firewall_cluster_cidrs", "not-a-network"), hosts="manager1"),
    Case("role-engine-live-restore", "role", "docker_engine",
         {"docker_engine_extra_config": {"live-restore": True}}, ("live-restore", "incompatible with swarm"),
         hosts="worker1"),
    Case("role-engine-managed-key", "role", "docker_engine",
         {"docker_engine_extra_config": {"log-driver": "syslog"}}, ("log-driver", "docker_engine_log_driver"),
         hosts="worker1"),
    Case("role-engine-bad-repository", "role", "docker_engine", {"docker_engine_repository": "snap"},
         ("docker_engine_repository", "debian, docker"), hosts="worker1"),
    Case("role-cluster-labels-type", "role", "swarm_cluster", {"swarm_cluster_node_labels": ["zone=a"]},
         ("swarm_cluster_node_labels", "dict"), hosts="swarm"),
    Case("role-cluster-subnet-size", "role", "swarm_cluster", {"swarm_cluster_subnet_size": "big"},
         ("swarm_cluster_subnet_size", "int"), hosts="swarm"),
    Case("role-services-global-replicas", "role", "swarm_services",
         {"swarm_services_services": [{"name": "badsvc", "image": "swarmops/probe:1", "mode": "global",
                                       "replicas": 2}]}, ("replicas",), hosts="manager1"),
    Case("role-lb-port-type", "role", "swarm_lb", {"swarm_lb_services": [{"name": "probe", "port": "http"}]},
         ("port", "int"), hosts="lb1"),
]
