"""swarm_token's pure part: which join tokens a rotation renews."""

from library import swarm_token


def test_token_rotation_plan():
    assert swarm_token.plan_rotation("none") == []
    assert swarm_token.plan_rotation("both") == ["worker", "manager"]
