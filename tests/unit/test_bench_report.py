"""The bench's verdicts: ratios of medians from one run, changed counts, and the table text."""

from __future__ import annotations

from bench.report import A5, B5, C5, CHECK, RERUN, Results, cell, targets, write_report


def results(**samples: list[float]) -> Results:
    r = Results()
    for name, values in samples.items():
        for v in values:
            r.add(name, v)
    return r


def by_what(r: Results) -> dict[str, object]:
    return {t.what.split(" <=")[0].split(" >=")[0]: t for t in targets(r)}


def test_bootstrap_ratios_are_ratios_of_medians_with_each_repetition_shown():
    r = results(**{A5: [10.0, 12.0, 30.0], B5: [8.0, 10.0, 9.0], C5: [30.0, 20.0, 26.0]})
    t = by_what(r)
    ab = t["bootstrap (a) swarmops / (b) bare script"]
    assert ab.measured == f"{12.0 / 9.0:.2f}" and not ab.met  # 1.33 > 1.3
    assert ab.per_rep == "1.25, 1.20, 3.33"
    ca = t["bootstrap (c) community.docker / (a) swarmops"]
    assert ca.measured == f"{26.0 / 12.0:.2f}" and ca.met


def test_rerun_target_needs_changed_zero_as_well_as_the_ratio():
    r = results(**{A5: [20.0]})
    r.add(RERUN, 4.0, changed=1)
    r.add(CHECK, 4.0, changed=0)
    t = by_what(r)
    assert not t["converged re-run / bootstrap (a)"].met  # 0.2 but changed=1
    assert "changed=1" in t["converged re-run / bootstrap (a)"].measured
    assert t["--check on the converged cluster reports changed=0"].met


def test_missing_contenders_give_no_target_and_the_report_escapes_pipes(tmp_path):
    r = results(**{A5: [10.0]})
    assert targets(r) == []
    r.add_profile("site.yml", [{"play": "Preflight | hosts", "task": "Check", "seconds": 1.5}])
    r.meta = {"date": "d", "machine": "m", "reps": 1, "groups": ["bootstrap"], "complete": True}
    out = tmp_path / "r.md"
    write_report(r, out)
    assert "| Preflight \\| hosts | Check | 1.50 |" in out.read_text()
    assert cell("a|b") == "a\\|b"
