"""swarm_stack on the shared lab: deploy, re-deploy unchanged, prune a dropped service, remove."""

from __future__ import annotations

import base64
import copy
import shlex

from support.lab import wait_for
from support.workload import http_get, ok, run

COMPOSE = {
    "version": "3.8",
    "services": {
        "web": {"image": "swarmops/probe:1", "ports": [{"target": 80, "published": 18095, "mode": "host"}],
                "deploy": {"replicas": 2, "update_config": {"parallelism": 1, "delay": "1s", "monitor": "1s"}},
                "secrets": ["token"], "configs": [{"source": "settings", "target": "/etc/settings"}],
                "networks": ["back"]},
        "api": {"image": "swarmops/probe:2", "networks": {"back": {"aliases": ["backend"]}},
                "deploy": {"endpoint_mode": "dnsrr"}},
        "worker": {"image": "swarmops/probe:1", "environment": {"ROLE": "worker"}},
    },
    "networks": {"back": {"attachable": True}},
    "secrets": {"token": {"file": "/root/wls-token"}},
    "configs": {"settings": {"content": "colour=green\n"}},
}


def stack_objects(lab, kind: str) -> list[str]:
    out = lab.docker("manager1", kind, "ls", "--filter", "label=com.docker.stack.namespace=wls",
                     "--format", "{{.Name}}").stdout
    return sorted(out.split())


def test_stack_deploy_redeploy_prune_remove(shared_lab):
    lab = shared_lab
    lab.ssh("manager1", "printf tok-9931 > /root/wls-token")
    try:
        r = ok(lab, "swarm_stack", {"name": "wls", "compose": COMPOSE})
        assert r.changed
        assert {s: v["action"] for s, v in r["services"].items()} == {
            "wls_web": "create", "wls_api": "create", "wls_worker": "create"}
        assert all(v["status"] == "converged" for v in r["services"].values())
        assert stack_objects(lab, "service") == ["wls_api", "wls_web", "wls_worker"]
        assert stack_objects(lab, "network") == ["wls_back", "wls_default"]
        assert r["secrets"]["wls_token"]["secret"]["name"] == "wls_token.v1"
        assert r["configs"]["wls_settings"]["config"]["name"] == "wls_settings.v1"
        assert stack_objects(lab, "secret") == ["wls_token.v1"]
        web = r["services"]["wls_web"]["service"]
        assert web["stack"] == "wls" and web["replicas_running"] == 2
        for t in web["tasks"]:
            assert "swarmops probe v1" in http_get(lab.hosts[t["node"]], 18095)

        # unchanged
        r = ok(lab, "swarm_stack", {"name": "wls", "compose": COMPOSE})
        assert not r.changed, r["diff"]
        assert {v["action"] for v in r["services"].values()} == {"none"}

        # new config content: a new version, and the service moves to it
        changed = copy.deepcopy(COMPOSE)
        changed["configs"]["settings"]["content"] = "colour=blue\n"
        r = ok(lab, "swarm_stack", {"name": "wls", "compose": changed})
        assert r["configs"]["wls_settings"]["updated_services"] == ["wls_web"]
        assert r["services"]["wls_web"]["action"] == "none"  # already moved, nothing left to change

        # swarm_service_info sees the stack's services by its name
        info = ok(lab, "swarm_service_info", {"stack": "wls", "tasks": False})
        assert [s["name"] for s in info["services"]] == ["wls_api", "wls_web", "wls_worker"]
        assert all(s["replicas_running"] == s["replicas_desired"] for s in info["services"])

        # swarm_service leaves the stack's services alone
        r = run(lab, "swarm_service", {"name": "wls_web", "replicas": 1})
        assert r.failed and "belongs to the stack 'wls'" in r.msg

        # a dropped service: check mode predicts the prune, the real run does it
        smaller = copy.deepcopy(changed)
        del smaller["services"]["worker"]
        r = ok(lab, "swarm_stack", {"name": "wls", "compose": smaller}, "--check")
        assert r.changed and "wls_worker" in r["removed"]
        assert "wls_worker" in stack_objects(lab, "service")
        r = ok(lab, "swarm_stack", {"name": "wls", "compose": smaller})
        assert r.changed and r["removed"] == ["wls_worker", "wls_default"]
        assert r["services"]["wls_web"]["action"] == "none"
        assert stack_objects(lab, "service") == ["wls_api", "wls_web"]
        # Gone from the swarm; manager1's own copy of the overlay goes once its last task has.
        wait_for(lambda: stack_objects(lab, "network") == ["wls_back"], 30, what="wls_default gone from manager1")
        assert not ok(lab, "swarm_stack", {"name": "wls", "compose": smaller}).changed

        # an update through the stack rolls like a service update
        newer = copy.deepcopy(smaller)
        newer["services"]["web"]["image"] = "swarmops/probe:2"
        r = ok(lab, "swarm_stack", {"name": "wls", "compose": newer})
        assert r["services"]["wls_web"]["changes"] == [
            {"field": "image", "before": "swarmops/probe:1", "after": "swarmops/probe:2"}]
        assert r["services"]["wls_api"]["action"] == "none"

        # unsupported keys are refused, naming them, with nothing changed
        bad = copy.deepcopy(newer)
        bad["services"]["web"]["privileged"] = True
        r = run(lab, "swarm_stack", {"name": "wls", "compose": bad})
        assert r.failed and "services.web: unsupported key(s) privileged" in r.msg
    finally:
        ok(lab, "swarm_stack", {"name": "wls", "state": "absent"})
    wait_for(lambda: not stack_objects(lab, "service") and not stack_objects(lab, "network")
             and not stack_objects(lab, "secret"), 30, what="the stack's objects gone")


# Two compose files on the manager, merged as `docker stack deploy -c base.yml -c prod.yml` merges
# them: the second file's replicas, image, environment and labels win, the rest is kept.
BASE_YML = """\
version: "3.8"
x-probe: &probe swarmops/probe:1
services:
  web:
    image: *probe
    environment: [ROLE=web, LEVEL=debug]
    labels: [tier=front]
    deploy:
      replicas: 1
      labels: {team: shop}
    secrets: [token]
  side:
    image: *probe
secrets:
  token:
    file: ./token
"""
PROD_YML = """\
services:
  web:
    image: swarmops/probe:2
    environment:
      LEVEL: info
      EXTRA: "1"
    labels: {tier: edge}
    deploy:
      replicas: 2
"""


def write_file(lab, path: str, text: str) -> None:
    lab.ssh("manager1", f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])} && "
                        f"echo {base64.b64encode(text.encode()).decode()} | base64 -d > {shlex.quote(path)}")


def test_stack_from_two_compose_files(shared_lab):
    lab = shared_lab
    files = ["/root/wlf/base.yml", "/root/wlf/prod.yml"]
    write_file(lab, files[0], BASE_YML)
    write_file(lab, files[1], PROD_YML)
    write_file(lab, "/root/wlf/token", "tok-4410")
    write_file(lab, "/root/wlf/list.yml", "- just\n- a list\n")
    write_file(lab, "/root/wlf/broken.yml", "services: [unclosed\n")
    try:
        r = ok(lab, "swarm_stack", {"name": "wlf", "compose_files": files}, "--check")
        assert r.changed and r["services"]["wlf_web"]["action"] == "create"
        assert not lab.docker("manager1", "service", "ls", "-q", "--filter", "name=wlf_").stdout.strip()

        r = ok(lab, "swarm_stack", {"name": "wlf", "compose_files": files})
        assert r.changed
        assert {s: v["action"] for s, v in r["services"].items()} == {"wlf_web": "create", "wlf_side": "create"}
        assert r["secrets"]["wlf_token"]["secret"]["name"] == "wlf_token.v1"  # ./token next to base.yml
        spec = lab.docker_json("manager1", "service", "inspect", "wlf_web")[0]["Spec"]
        assert spec["Mode"]["Replicated"]["Replicas"] == 2
        container = spec["TaskTemplate"]["ContainerSpec"]
        assert container["Image"].startswith("swarmops/probe:2")
        assert sorted(container["Env"]) == ["EXTRA=1", "LEVEL=info", "ROLE=web"]
        assert container["Labels"] == {"tier": "edge"}
        assert spec["Labels"]["team"] == "shop" and spec["Labels"]["com.docker.stack.namespace"] == "wlf"
        assert [s["SecretName"] for s in container["Secrets"]] == ["wlf_token.v1"]
        assert r["services"]["wlf_web"]["service"]["replicas_running"] == 2

        # the same files again: nothing to do
        r = ok(lab, "swarm_stack", {"name": "wlf", "compose_files": files})
        assert not r.changed, r["diff"]

        # errors name the option, the file's index and its path; nothing is changed
        for bad, words in (("/root/wlf/missing.yml", "no such file"), ("/root/wlf/list.yml", "compose mapping"),
                           ("/root/wlf/broken.yml", "not valid YAML"), ("/root/wlf", "cannot read")):
            r = run(lab, "swarm_stack", {"name": "wlf", "compose_files": [files[0], bad]})
            assert r.failed and f"compose_files[1] ({bad}): " in r.msg and words in r.msg, r.msg
        r = run(lab, "swarm_stack", {"name": "wlf", "compose_files": ["wlf/base.yml"]})
        assert r.failed and "compose_files[0] (wlf/base.yml): not an absolute path" in r.msg, r.msg
        r = run(lab, "swarm_stack", {"name": "wlf", "compose_files": files, "compose": {"services": {}}})
        assert r.failed and "mutually exclusive" in r.msg, r.msg
        assert lab.docker_json("manager1", "service", "inspect", "wlf_web")[0]["Spec"] == spec
    finally:
        ok(lab, "swarm_stack", {"name": "wlf", "state": "absent"})
        lab.ssh("manager1", "rm -rf /root/wlf", check=False)
    wait_for(lambda: not lab.docker("manager1", "service", "ls", "--filter", "label=com.docker.stack.namespace=wlf",
                                    "-q").stdout.strip(), 30, what="the wlf stack gone")
