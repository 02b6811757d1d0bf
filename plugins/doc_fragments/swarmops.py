"""Documentation of the connection options every swarmops module shares."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine to talk to, from the managed host.
      - C(unix:///var/run/docker.sock) (the default), C(ssh://user@host), or C(tcp://host:2376)
        with I(tls).
    type: str
    default: unix:///var/run/docker.sock
  tls:
    description: Use TLS to connect to a C(tcp://) I(docker_host).
    type: bool
    default: false
  validate_certs:
    description: Verify the engine's certificate against I(ca_path) and its name.
    type: bool
    default: true
  ca_path:
    description: CA certificate file that signed the engine's certificate.
    type: path
  client_cert:
    description: Client certificate file, for engines started with C(--tlsverify).
    type: path
  client_key:
    description: Key of I(client_cert).
    type: path
  tls_hostname:
    description: The name the engine's certificate must carry, when it differs from the host in I(docker_host).
    type: str
  api_timeout:
    description: Seconds to wait for one Engine API call.
    type: int
    default: 60
requirements:
  - Docker SDK for Python 5.0 or later on the managed host, only when I(docker_host) is C(ssh://) or C(tcp://)
    (Debian 12's C(python3-docker) is 5.0.3); the local socket needs none.
"""
