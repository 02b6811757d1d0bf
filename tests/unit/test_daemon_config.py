"""docker_daemon_config's pure parts: how daemon.json is written and when it must be rewritten."""

from __future__ import annotations

import json

from ansible.module_utils.swarmops.daemon_config import parse, refused_keys, render, rewrite_reason

WANTED = {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}


def test_render_is_the_layout_the_role_always_wrote():
    # The bench's engines and every converged host hold this exact text: no rewrite, no restart.
    assert render(WANTED) == json.dumps(WANTED, indent=2, sort_keys=True) + "\n"
    assert render(WANTED).startswith('{\n  "log-driver": "json-file",\n  "log-opts": {\n    "max-file": "3"')


def test_same_settings_in_another_layout_need_no_rewrite():
    assert rewrite_reason('{"log-opts": {"max-file": "3", "max-size": "10m"}, "log-driver": "json-file"}',
                          WANTED) == ""


def test_missing_unparseable_or_non_object_files_are_rewritten():
    assert rewrite_reason(None, WANTED) == "the file does not exist"
    assert rewrite_reason("{not json", WANTED).startswith("the file is not JSON")
    assert rewrite_reason("[]", WANTED) == "the file does not hold a JSON object"


def test_a_differing_setting_is_named():
    current = render({**WANTED, "debug": True})
    assert rewrite_reason(current, WANTED) == "settings differ: debug"
    assert rewrite_reason(render({"log-driver": "journald"}), WANTED) == "settings differ: log-driver, log-opts"


def test_a_value_of_another_type_differs():
    # "3" and 3 are different settings to the engine.
    assert rewrite_reason(render({**WANTED, "log-opts": {"max-size": "10m", "max-file": 3}}), WANTED) != ""


def test_live_restore_is_refused():
    assert refused_keys({**WANTED, "live-restore": True}) == ["live-restore"]
    assert refused_keys(WANTED) == []


def test_parse_reads_back_what_render_writes():
    assert parse(render(WANTED)) == (WANTED, "")
