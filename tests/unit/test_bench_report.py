"""The bench's verdicts: ratios of medians from one run, changed counts, and the table text."""

from __future__ import annotations

from bench.report import A5, B5, C5, CHECK, RERUN, SSH_A5, SSH_RERUN, Results, cell, targets, write_report


def results(**samples: list[float]) -> Results:
    r = Results()
    for name, values in samples.items():
        for v in values:
            r.add(name, v)
    return r


def by_what(r: Results) -> dict[str, object]:
    return {t.what.split(" <=")[0].split(" >=")[0]: t for t in targets(r)}


def test_bootstrap_ratios_are_ratios_of_medians_with_each_repetition_shown():
    r = results(**{A5: [10.0, 12.0, 30.0], B5: [6.0, 10.0, 7.0], C5: [30.0, 14.0, 26.0]})
    t = by_what(r)
    ab = t["bootstrap (a) swarmops / (b) bare script"]
    assert ab.measured == f"{12.0 / 7.0:.2f}" and not ab.met  # 1.71 > 1.5
    assert ab.per_rep == "1.67, 1.20, 4.29"
    ca = t["bootstrap (c) community.docker / (a) swarmops"]
    assert ca.measured == f"{26.0 / 12.0:.2f}" and ca.met
    assert not by_what(results(**{A5: [12.0], C5: [14.0]}))["bootstrap (c) community.docker / (a) swarmops"].met


def test_rerun_target_needs_changed_zero_as_well_as_the_ratio():
    r = results(**{A5: [20.0]})
    r.add(RERUN, 4.0, changed=1)
    r.add(CHECK, 4.0, changed=0)
    t = by_what(r)
    assert not t["converged re-run / bootstrap (a)"].met  # 0.2 but changed=1
    assert "changed=1" in t["converged re-run / bootstrap (a)"].measured
    assert t["--check on the converged cluster / bootstrap (a)"].met


def test_ssh_executions_are_judged_per_swarm_host():
    r = results(**{SSH_RERUN: [10.0, 12.0, 14.0], SSH_A5: [31.0]})
    t = by_what(r)
    assert t[SSH_RERUN].met and t[SSH_RERUN].measured == "12"  # at most 2 per host and 2 more
    assert not t[SSH_A5].met  # more than 6 per host


def test_missing_contenders_give_no_target_and_the_report_escapes_pipes(tmp_path):
    r = results(**{A5: [10.0]})
    assert targets(r) == []
    r.add_profile("site.yml", [{"play": "Preflight | hosts", "task": "Check", "seconds": 1.5}])
    r.meta = {"date": "d", "machine": "m", "reps": 1, "groups": ["bootstrap"], "complete": True}
    out = tmp_path / "r.md"
    write_report(r, out)
    assert "| Preflight \\| hosts | Check | 1.50 |" in out.read_text()
    assert cell("a|b") == "a\\|b"
