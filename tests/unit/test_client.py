"""The client's UnixAPI, against a stand-in engine on a real unix socket: what it sends (method,
path, query, body, as the SDK would) and how it reads errors. No engine, no SDK."""

from __future__ import annotations

import base64
import http.server
import json
import socketserver
import threading
import urllib.parse
from pathlib import Path

import pytest
from ansible.module_utils.swarmops.client import EngineError, UnixAPI, not_found


class _Engine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def engine(tmp_path: Path):
    """A socket that records each request and answers what `replies` says for its path (a list:
    one answer per request, in turn)."""
    seen: list[dict] = []
    replies: dict[str, tuple[int, object]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def address_string(self) -> str:
            return "engine"

        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            seen.append({"method": self.command, "path": url.path,
                         "query": dict(urllib.parse.parse_qsl(url.query)), "body": body})
            reply = replies.get(url.path, (200, {}))
            status, answer = reply.pop(0) if isinstance(reply, list) else reply
            raw = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = _answer

    path = str(tmp_path / "docker.sock")
    server = _Engine(path, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield UnixAPI(path, 5), seen, replies
    server.shutdown()
    server.server_close()


def test_filters_are_sent_as_lists_of_strings_as_the_sdk_sends_them(engine):
    api, seen, _ = engine
    api.services(filters={"name": "web", "label": ["a=b"]}, status=True)
    api.tasks(filters={"desired-state": "running", "dangling": True})
    api.networks(names=["front"])
    assert json.loads(seen[0]["query"]["filters"]) == {"name": ["web"], "label": ["a=b"]}
    assert seen[0]["query"]["status"] == "true"
    assert json.loads(seen[1]["query"]["filters"]) == {"desired-state": ["running"], "dangling": ["true"]}
    assert json.loads(seen[2]["query"]["filters"]) == {"name": ["front"]}


def test_writes_send_the_version_flags_and_bodies_the_engine_expects(engine):
    api, seen, replies = engine
    replies["/secrets/create"] = (201, {"ID": "s1"})
    api.update_swarm(version=7, swarm_spec={"Name": "default"}, rotate_worker_token=True)
    api.update_node("n1", 3, {"Role": "worker"})
    assert api.create_secret("db.v1", "pw", {"l": "v"}) == {"ID": "s1"}
    api.remove_node("n2", force=True)
    update, node, secret, remove = seen
    assert (update["method"], update["path"], update["body"]) == ("POST", "/swarm/update", {"Name": "default"})
    assert update["query"] == {"version": "7", "rotateWorkerToken": "true", "rotateManagerToken": "false",
                               "rotateManagerUnlockKey": "false"}
    assert (node["path"], node["query"], node["body"]) == ("/nodes/n1/update", {"version": "3"}, {"Role": "worker"})
    assert secret["body"] == {"Name": "db.v1", "Data": base64.b64encode(b"pw").decode(), "Labels": {"l": "v"}}
    assert (remove["method"], remove["path"], remove["query"]) == ("DELETE", "/nodes/n2", {"force": "true"})


def test_errors_carry_the_engines_status_and_message(engine):
    api, _, replies = engine
    replies["/services/nope"] = (404, {"message": "service nope not found"})
    with pytest.raises(EngineError) as caught:
        api.inspect_service("nope")
    assert caught.value.status_code == 404 and caught.value.explanation == "service nope not found"
    assert not_found(caught.value)
    replies["/swarm/leave"] = (503, {"message": "This node is not part of a swarm"})
    assert api.leave_swarm(force=True) is True  # as the SDK: a forced leave of no swarm is done
    with pytest.raises(EngineError) as caught:
        api.leave_swarm()
    assert caught.value.status_code == 503 and not not_found(caught.value)


def test_an_engine_that_does_not_answer_is_an_engine_error(tmp_path):
    with pytest.raises(EngineError) as caught:
        UnixAPI(str(tmp_path / "absent.sock"), 1).info()
    assert caught.value.status_code == 0 and "cannot reach the engine" in caught.value.explanation


DEADLINE = (500, {"message": "rpc error: code = DeadlineExceeded desc = context deadline exceeded"})


def test_a_read_is_asked_again_when_the_manager_answers_too_late_and_a_write_is_not(engine, monkeypatch):
    api, seen, replies = engine
    monkeypatch.setattr("ansible.module_utils.swarmops.client.time.sleep", lambda s: None)
    replies["/tasks"] = [DEADLINE, DEADLINE, (200, [{"ID": "t1"}])]
    assert api.tasks() == [{"ID": "t1"}]
    replies["/nodes"] = [DEADLINE, DEADLINE, DEADLINE]
    with pytest.raises(EngineError, match="deadline"):
        api.nodes()
    replies["/nodes/n1/update"] = [DEADLINE, (200, {})]
    with pytest.raises(EngineError, match="deadline"):
        api.update_node("n1", 3, {"Role": "worker"})
    assert [r["path"] for r in seen] == ["/tasks"] * 3 + ["/nodes"] * 3 + ["/nodes/n1/update"]
