"""The one Docker client every swarmops module uses.

It connects to `docker_host` (the local socket by default, `ssh://user@host`, or
`tcp://host:2376` with TLS), turns the SDK's exceptions into `fail_json` messages, and retries
writes that lost a race ("update out of sequence") after re-reading the object. It works with
the Docker SDK for Python that Debian 12 ships (5.0.x) and with 7.x.

On the local socket (the default) every module talks to the engine through the standard
library (`UnixAPI`): importing the SDK costs 0.25-1 s per module start, more than the calls
themselves. The SDK is imported only for ssh:// and tcp:// engines. Errors of either are in
`SwarmClient.errors`; `not_found(exc)` tells a 404.
"""

from __future__ import annotations

import base64
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
    """The Engine API over a unix socket, with the standard library alone. Method names,
    arguments and results are those of the SDK's APIClient for the calls swarmops makes, so
    a module runs the same on either; every error is an EngineError (status, explanation)."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout = path, timeout

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, data: Any = None,
                ok: tuple[int, ...] = ()) -> Any:
        """One call; the JSON answer (None when empty). A status in `ok` is not an error."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        body = json.dumps(data).encode() if data is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn = _UnixConnection(self.path, self.timeout)
        try:
            conn.request(method, url, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as exc:
            raise EngineError(0, f"cannot reach the engine at unix://{self.path}: {exc}") from exc
        finally:
            conn.close()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode(errors="replace")
        if resp.status >= 400 and resp.status not in ok:
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise EngineError(resp.status, message or resp.reason)
        return answer

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        # A manager that is slow to answer inside the swarm (raft or dispatcher busy, seen on
        # loaded hosts) fails a read with "context deadline exceeded" although the next one
        # succeeds: a read is asked again, twice, before its error counts. Writes are not.
        for pause in (1.0, 2.0, None):
            try:
                return self.request("GET", path, params)
            except EngineError as exc:
                if pause is None or exc.status_code < 500 or "context deadline exceeded" not in exc.explanation:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")

    @staticmethod
    def _filters(filters: dict[str, Any] | None) -> dict[str, str] | None:
        """As the SDK sends them: every value a list of strings (the engine refuses a bare one)."""
        if not filters:
            return None

        def strings(v: Any) -> list[str]:
            values = v if isinstance(v, list) else [v]
            return [str(x).lower() if isinstance(x, bool) else str(x) for x in values]
        return {"filters": json.dumps({k: strings(v) for k, v in filters.items()})}

    # Reads
    def info(self) -> dict:
        return self.get("/info")

    def version(self) -> dict:
        return self.get("/version")

    def inspect_swarm(self) -> dict:
        return self.get("/swarm")

    def get_unlock_key(self) -> dict:
        return self.get("/swarm/unlockkey")

    def nodes(self, filters: dict[str, Any] | None = None) -> list[dict]:
        return self.get("/nodes", self._filters(filters))

    def inspect_node(self, node_id: str) -> dict:
        return self.get(f"/nodes/{node_id}")

    def services(self, filters: dict[str, Any] | None = None, status: bool = False) -> list[dict]:
        return self.get("/services", {**(self._filters(filters) or {}), **({"status": "true"} if status else {})})

    def inspect_service(self, service_id: str) -> dict:
        return self.get(f"/services/{service_id}")

    def tasks(self, filters: dict[str, Any] | None = None) -> list[dict]:
        return self.get("/tasks", self._filters(filters))

    def networks(self, names: list[str] | None = None, filters: dict[str, Any] | None = None) -> list[dict]:
        wanted = dict(filters or {})
        if names:
            wanted["name"] = names
        return self.get("/networks", self._filters(wanted))

    def inspect_network(self, net_id: str) -> dict:
        return self.get(f"/networks/{net_id}")

    def secrets(self, filters: dict[str, Any] | None = None) -> list[dict]:
        return self.get("/secrets", self._filters(filters))

    def configs(self, filters: dict[str, Any] | None = None) -> list[dict]:
        return self.get("/configs", self._filters(filters))

    # Writes
    def update_swarm(self, version: int, swarm_spec: dict | None = None, rotate_worker_token: bool = False,
                     rotate_manager_token: bool = False, rotate_manager_unlock_key: bool = False) -> bool:
        params = {"version": version, "rotateWorkerToken": str(rotate_worker_token).lower(),
                  "rotateManagerToken": str(rotate_manager_token).lower(),
                  "rotateManagerUnlockKey": str(rotate_manager_unlock_key).lower()}
        self.request("POST", "/swarm/update", params, swarm_spec or {})
        return True

    def leave_swarm(self, force: bool = False) -> bool:
        # As the SDK: with force, "not part of a swarm" (406, or 503 on some engines) is done.
        self.request("POST", "/swarm/leave", {"force": str(force).lower()}, ok=(406, 503) if force else ())
        return True

    def update_node(self, node_id: str, version: int, node_spec: dict | None = None) -> bool:
        self.request("POST", f"/nodes/{node_id}/update", {"version": version}, node_spec or {})
        return True

    def remove_node(self, node_id: str, force: bool = False) -> bool:
        self.request("DELETE", f"/nodes/{node_id}", {"force": str(force).lower()})
        return True

    def remove_service(self, service_id: str) -> bool:
        self.request("DELETE", f"/services/{service_id}")
        return True

    def remove_network(self, net_id: str) -> None:
        self.request("DELETE", f"/networks/{net_id}")

    def _create_data(self, kind: str, name: str, data: bytes | str, labels: dict | None) -> dict:
        raw = data.encode() if isinstance(data, str) else data
        return self.request("POST", f"/{kind}/create", data={
            "Name": name, "Data": base64.b64encode(raw).decode(), "Labels": labels or {}})

    def create_secret(self, name: str, data: bytes | str, labels: dict | None = None) -> dict:
        return self._create_data("secrets", name, data, labels)

    def create_config(self, name: str, data: bytes | str, labels: dict | None = None) -> dict:
        return self._create_data("configs", name, data, labels)

    def remove_secret(self, secret_id: str) -> bool:
        self.request("DELETE", f"/secrets/{secret_id}")
        return True

    def remove_config(self, config_id: str) -> bool:
        self.request("DELETE", f"/configs/{config_id}")
        return True

    def post_json(self, path: str, params: dict[str, Any] | None = None, data: Any = None) -> Any:
        return self.request("POST", path, params, data)


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
    """The engine's API bound to an AnsibleModule for errors: a UnixAPI on a local socket (the
    SDK is not imported), docker.APIClient over ssh:// or tcp://."""

    def __init__(self, module: Any) -> None:
        self.module = module
        params = module.params
        check_bounds(module)
        base_url = params["docker_host"]
        if base_url.startswith("unix://"):
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
        self.errors = (docker.errors.DockerException,)
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

    def services_with_status(self) -> list[dict]:
        """Every service with its ServiceStatus (running and desired task counts)."""
        if isinstance(self.api, UnixAPI):
            return self.call("list services", self.api.services, status=True)
        # The SDK's services() of Debian's 5.0 has no status parameter.
        return self.call("list services", lambda: self.api._result(
            self.api._get(self.api._url("/services"), params={"status": "true"}), True))

    def post_json(self, path: str, *, params: dict[str, Any] | None = None, data: Any = None) -> Any:
        """A raw Engine API POST for what the SDK does not expose (e.g. rollback=previous)."""
        if isinstance(self.api, UnixAPI):
            return self.api.post_json(path, params, data)
        url = self.api._url(path)
        resp = self.api._post_json(url, params=params, data=data)
        self.api._raise_for_status(resp)
        return resp.json() if resp.content else None


def not_found(exc: Any) -> bool:
    """Whether an error of either client is the engine's 404."""
    return getattr(exc, "status_code", None) == 404


def explain(exc: Any) -> str:
    explanation = getattr(exc, "explanation", None) or str(exc)
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    if "context deadline exceeded" in explanation:
        explanation += " (the managers may have lost quorum)"
    return explanation
