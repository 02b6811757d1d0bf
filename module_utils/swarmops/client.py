"""The one Docker client every swarmops module uses.

It connects to `docker_host` (the local socket by default, `ssh://user@host`, or
`tcp://host:2376` with TLS), turns the SDK's exceptions into `fail_json` messages, and retries
writes that lost a race ("update out of sequence") after re-reading the object. It works with
the Docker SDK for Python that Debian 12 ships (5.0.x) and with 7.x.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

try:
    import docker

    # NotFound is imported here for network.py, which takes every SDK name from this module.
    from docker.errors import APIError, DockerException, NotFound  # pylint: disable=unused-import
    from docker.tls import TLSConfig

    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by fail_json below
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    # Distinct classes, so that `except APIError` before `except DockerException` stays two
    # different handlers; without the SDK no client is made, so none of them is ever raised.
    class DockerException(Exception):  # type: ignore[no-redef]
        pass

    class APIError(DockerException):  # type: ignore[no-redef]
        pass

    class NotFound(APIError):  # type: ignore[no-redef]
        pass

T = TypeVar("T")

# Connection options shared by every module (documented by the `swarmops` doc fragment).
CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"},
    "tls": {"type": "bool", "default": False},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path"},
    "tls_hostname": {"type": "str"},
    "api_timeout": {"type": "int", "default": 60},
}

OUT_OF_SEQUENCE = "update out of sequence"


def argument_spec(**module_args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A module's own options plus the connection options."""
    spec = dict(CONNECTION_ARGS)
    spec.update(module_args)
    return spec


def _hostname_adapter(hostname: str) -> Any:
    """An HTTPS adapter that checks the server certificate against `hostname` (SDK 7.x)."""
    import requests.adapters

    class HostnameAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["assert_hostname"] = hostname
            super().init_poolmanager(*args, **kwargs)

    return HostnameAdapter()


def _tls_config(params: dict[str, Any]) -> Any:
    if not (params.get("tls") or params.get("ca_path") or params.get("client_cert")):
        return False
    cert = None
    if params.get("client_cert") or params.get("client_key"):
        if not (params.get("client_cert") and params.get("client_key")):
            raise ValueError("client_cert and client_key must be given together")
        cert = (params["client_cert"], params["client_key"])
    verify = bool(params.get("validate_certs", True))
    kwargs: dict[str, Any] = {"client_cert": cert, "ca_cert": params.get("ca_path"), "verify": verify}
    if params.get("tls_hostname") and _sdk_major() < 7:
        kwargs["assert_hostname"] = params["tls_hostname"]
    return TLSConfig(**kwargs)


def _sdk_major() -> int:
    return int(str(getattr(docker, "__version__", "0")).split(".", maxsplit=1)[0])


# Options that bound a wait. A negative bound used to be taken as "no time at all": the
# module made its change, then failed at once saying it had timed out.
WAIT_BOUNDS = ("timeout", "wait_timeout")


def check_bounds(module: Any) -> None:
    """Refuse negative wait bounds (and a non-positive API timeout) before any change."""
    for option in WAIT_BOUNDS:
        value = module.params.get(option)
        if isinstance(value, int) and value < 0:
            module.fail_json(msg=f"invalid option {option}: seconds to wait, 0 or more; got {value}")
    if module.params.get("api_timeout", 1) <= 0:
        module.fail_json(msg=f"invalid option api_timeout: seconds, more than 0; got {module.params['api_timeout']}")


class SwarmClient:
    """A thin wrapper over docker.APIClient bound to an AnsibleModule for errors."""

    def __init__(self, module: Any) -> None:
        self.module = module
        if not HAS_DOCKER:
            module.fail_json(
                msg="the Docker SDK for Python is required on the managed host "
                "(Debian: apt-get install python3-docker; pip: docker)",
                exception=DOCKER_IMPORT_ERROR,
            )
        params = module.params
        check_bounds(module)
        try:
            tls = _tls_config(params)
            base_url = params["docker_host"]
            if tls and base_url.startswith("tcp://"):
                base_url = "https://" + base_url[len("tcp://"):]
            self.api = docker.APIClient(
                base_url=base_url, version="auto", timeout=params["api_timeout"], tls=tls
            )
            if tls and params.get("tls_hostname") and _sdk_major() >= 7:
                self.api.mount("https://", _hostname_adapter(params["tls_hostname"]))
                # Re-negotiate over the adapter that checks the server name.
                self.api._version = self.api._retrieve_server_version()
        except (DockerException, ValueError) as exc:
            module.fail_json(msg=f"cannot connect to the Docker engine at {params['docker_host']}: {exc}")

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the SDK; on an engine error, fail the module with what was being done."""
        try:
            return fn(*args, **kwargs)
        except APIError as exc:
            self.module.fail_json(msg=f"{what} failed: {explain(exc)}")
        except DockerException as exc:
            self.module.fail_json(msg=f"{what} failed: {exc}")
        raise AssertionError("unreachable")

    def retry_write(self, what: str, attempt: Callable[[], T], attempts: int = 5) -> T:
        """Run a read-modify-write `attempt` again when another writer got there first."""
        for n in range(attempts):
            try:
                return attempt()
            except APIError as exc:
                if OUT_OF_SEQUENCE in str(exc) and n + 1 < attempts:
                    time.sleep(0.2 * (n + 1))
                    continue
                self.module.fail_json(msg=f"{what} failed: {explain(exc)}")
        raise AssertionError("unreachable")

    def post_json(self, path: str, *, params: dict[str, Any] | None = None, data: Any = None) -> Any:
        """A raw Engine API POST for what the SDK does not expose (e.g. rollback=previous)."""
        url = self.api._url(path)
        resp = self.api._post_json(url, params=params, data=data)
        self.api._raise_for_status(resp)
        return resp.json() if resp.content else None


def explain(exc: Any) -> str:
    explanation = getattr(exc, "explanation", None) or str(exc)
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    if "context deadline exceeded" in explanation:
        explanation += " (the managers may have lost quorum)"
    return explanation
