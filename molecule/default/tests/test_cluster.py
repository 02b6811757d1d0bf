"""The cluster as the first manager sees it."""

import testinfra
from labtest import INVENTORY


def test_every_node_is_ready_with_its_role(inventory):
    first = inventory.get_hosts("managers")[0]
    host = testinfra.get_host(f"ansible://{first}?ansible_inventory={INVENTORY}")
    lines = host.check_output("docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'").splitlines()
    nodes = {line.split()[0]: line.split()[1:] for line in lines}
    assert sorted(nodes) == sorted(inventory.get_hosts("swarm"))
    assert all(state[0] == "Ready" for state in nodes.values())
    managers = {n for n, state in nodes.items() if len(state) > 1}
    assert managers == set(inventory.get_hosts("managers"))
