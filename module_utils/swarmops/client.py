"""The one Docker client every swarmops module uses.

It connects to `docker_host` (the local socket by default, `ssh://user@host`, or
`tcp://host:2376` with TLS), turns the SDK's exceptions into `fail_json` messages, and retries
writes that lost a race ("update out of sequence") after re-reading the object. It works with
the Docker SDK for Python that Debian 12 ships (5.0.x) and with 7.x.

Read-only modules on the local socket (`SwarmClient(module, lean=True)`) read through the
standard library instead (`UnixAPI`): importing the SDK costs 0.25-1 s per module start, more
than the calls themselves. The SDK is imported on first use only, so such a module never
loads it; `APIError`, `DockerException` and `NotFound` are looked up from it when a module
imports them by name.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import traceback
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

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
SDK_ERRORS = ("APIError", "DockerException", "NotFound", "TLSParameterError")
_sdk: dict[str, Any] = {}


def sdk() -> Any:
    """The Docker SDK module, imported on first use (None when it is not installed)."""
    if "docker" not in _sdk:
        try:
            import docker
            import docker.errors
            import docker.tls

            _sdk["docker"], _sdk["error"] = docker, None
        except ImportError:
            _sdk["docker"], _sdk["error"] = None, traceback.format_exc()
    return _sdk["docker"]


class _MissingSDKError(Exception):
    """Stands in for the SDK's exceptions when it is not installed: no client is made then
    (SwarmClient fails saying how to install it), so none is ever raised."""


_STAND_INS = {"DockerException": _MissingSDKError}
_STAND_INS["APIError"] = type("APIError", (_MissingSDKError,), {})
_STAND_INS["NotFound"] = type("NotFound", (_STAND_INS["APIError"],), {})
_STAND_INS["TLSParameterError"] = type("TLSParameterError", (_MissingSDKError,), {})


def __getattr__(name: str) -> Any:
    """`from ...client import APIError` (and the other SDK exceptions): the SDK's own class,
    looked up (and the SDK imported) only when a module asks for it by name."""
    if name in SDK_ERRORS:
        docker = sdk()
        return getattr(docker.errors, name) if docker else _STAND_INS[name]
    raise AttributeError(name)


class EngineError(Exception):
    """An Engine API error read through UnixAPI; `explanation` is the engine's message."""

    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(f"{status}: {explanation}")
        self.status_code, self.explanation = status, explanation


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class UnixAPI:
    """The Engine API's reads over a unix socket, with the standard library alone. Method
    names and results are those of the SDK's APIClient for the reads swarmops makes."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout = path, timeout

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        conn = _UnixConnection(self.path, self.timeout)
        try:
            conn.request("GET", path + query)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            raise EngineError(0, f"cannot reach the engine at unix://{self.path}: {exc}") from exc
        finally:
            conn.close()
        data = json.loads(body) if body else None
        if resp.status >= 400:
            message = data.get("message") if isinstance(data, dict) else body.decode(errors="replace")
            raise EngineError(resp.status, message or resp.reason)
        return data

    def info(self) -> dict:
        return self.get("/info")

    def version(self) -> dict:
        return self.get("/version")

    def inspect_swarm(self) -> dict:
        return self.get("/swarm")

    def nodes(self) -> list[dict]:
        return self.get("/nodes")

    def services(self, status: bool = False) -> list[dict]:
        return self.get("/services", {"status": "true"} if status else None)

    def tasks(self, filters: dict[str, Any] | None = None) -> list[dict]:
        return self.get("/tasks", {"filters": json.dumps(filters)} if filters else None)


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
    return sdk().tls.TLSConfig(**kwargs)


def _sdk_major() -> int:
    return int(str(getattr(sdk(), "__version__", "0")).split(".", maxsplit=1)[0])


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
    """A thin wrapper over docker.APIClient bound to an AnsibleModule for errors.

    With `lean=True` (read-only modules) and a local socket, `api` is a UnixAPI and the SDK is
    not imported; over ssh:// or tcp:// the SDK is used either way."""

    def __init__(self, module: Any, lean: bool = False) -> None:
        self.module = module
        params = module.params
        check_bounds(module)
        base_url = params["docker_host"]
        if lean and base_url.startswith("unix://"):
            self.api: Any = UnixAPI(base_url[len("unix://"):], params["api_timeout"])
            self.errors: tuple[type[BaseException], ...] = (EngineError,)
            return
        docker = sdk()
        if docker is None:
            module.fail_json(
                msg="the Docker SDK for Python is required on the managed host "
                "(Debian: apt-get install python3-docker; pip: docker)",
                exception=_sdk["error"],
            )
        self.errors = (docker.errors.APIError,)
        try:
            tls = _tls_config(params)
            if tls and base_url.startswith("tcp://"):
                base_url = "https://" + base_url[len("tcp://"):]
            self.api = docker.APIClient(
                base_url=base_url, version="auto", timeout=params["api_timeout"], tls=tls
            )
            if tls and params.get("tls_hostname") and _sdk_major() >= 7:
                self.api.mount("https://", _hostname_adapter(params["tls_hostname"]))
                # Re-negotiate over the adapter that checks the server name.
                self.api._version = self.api._retrieve_server_version()
        except (docker.errors.DockerException, ValueError) as exc:
            module.fail_json(msg=f"cannot connect to the Docker engine at {params['docker_host']}: {exc}")

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the SDK; on an engine error, fail the module with what was being done."""
        try:
            return fn(*args, **kwargs)
        except self.errors as exc:
            self.module.fail_json(msg=f"{what} failed: {explain(exc)}")
        except Exception as exc:
            docker = _sdk.get("docker")
            if docker is None or not isinstance(exc, docker.errors.DockerException):
                raise
            self.module.fail_json(msg=f"{what} failed: {exc}")
        raise AssertionError("unreachable")

    def retry_write(self, what: str, attempt: Callable[[], T], attempts: int = 5) -> T:
        """Run a read-modify-write `attempt` again when another writer got there first."""
        for n in range(attempts):
            try:
                return attempt()
            except self.errors as exc:
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
