"""HAProxy on the lb group."""

testinfra_hosts = ["ansible://lb"]


def test_haproxy_runs_with_a_valid_config(host):
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0
    assert "is running" in host.check_output("service haproxy status")
    assert host.socket("tcp://0.0.0.0:8404").is_listening
    assert host.file("/run/haproxy/admin.sock").is_socket


def test_every_swarm_node_is_a_backend_server(host, inventory):
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    for node in inventory.get_hosts("swarm"):
        assert f"server {node} " in config


def test_sample_service_answers_through_haproxy(host, inventory):
    address = inventory.get_variables(host.backend.get_hostname())["ansible_host"]
    pages = {host.check_output(f"curl -s -m 2 http://{address}:8080/") for _ in range(6)}
    assert pages == {f"swarmops probe v1 on {w}" for w in inventory.get_hosts("workers")}
