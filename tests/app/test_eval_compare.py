"""`drivestack eval compare`: the paired comparison of `eval policy` runs from the command line."""

from __future__ import annotations

import json

from drivestack.cli import main
from tests.control.test_paired import episode


def _report(path, rows: dict[str, list[dict]], scenario: str = "townnav", supervisor: bool = False):
    path.mkdir(parents=True)
    eps = [dict(e, row=row) for row, es in rows.items() for e in es]
    (path / "report.json").write_text(json.dumps({"scenario": scenario, "route_length_m": 1000.0, "supervisor": supervisor,
                                                  "rows": {r: {} for r in rows}, "episodes": eps}))
    return str(path)


def test_eval_compare_reads_eval_policy_runs_and_refuses_what_it_cannot_compare(tmp_path, capsys):
    teacher = _report(tmp_path / "t", {"rule-based/labels": [episode(s, 0.7) for s in range(10)]})
    both = _report(tmp_path / "b", {"rule-based/labels": [episode(s, 0.7) for s in range(10)],
                                    "ppo/labels": [episode(s, 0.9) for s in range(10)]})
    assert main(["eval", "compare", teacher, f"{both}:ppo/labels"]) == 0
    out = capsys.readouterr().out
    assert "verdict: better" in out and "routes won 10, lost 0" in out
    assert main(["eval", "compare", both, "--json", "--out", str(tmp_path / "c")]) == 0  # one run, its two rows
    result = json.loads(capsys.readouterr().out)
    assert [c["candidate"] for c in result["comparisons"]] == [f"{both}:ppo/labels"]
    assert json.loads((tmp_path / "c" / "compare.json").read_text()) == result
    bad = [([teacher, str(tmp_path / "nowhere")], "no report.json there"),
           ([teacher, f"{both}:pixels/camera"], "row 'pixels/camera' is not in that report"),
           ([teacher], "names one row only"),
           ([teacher, _report(tmp_path / "h", {"ppo/labels": [episode(1, 1.0)]}, scenario="highway")], "compare runs of one world"),
           ([teacher, _report(tmp_path / "o", {"ppo/labels": [episode(99, 1.0)]})], "share no seed")]
    for argv, message in bad:
        assert main(["eval", "compare", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
    suite = tmp_path / "s"
    suite.mkdir()
    (suite / "report.json").write_text(json.dumps({"cases": []}))
    assert main(["eval", "compare", teacher, str(suite)]) == 2
    assert "is not an `eval policy` report" in capsys.readouterr().err
    assert main(["eval", "policy", teacher]) == 2
    assert "only `eval compare` does" in capsys.readouterr().err


def test_runs_joined_by_plus_are_pooled_and_refused_when_they_overlap_or_differ(tmp_path, capsys):
    """A test range driven in two parts compares as one: the routes of both."""
    teacher_a = _report(tmp_path / "ta", {"rule-based/labels": [episode(s, 0.7) for s in range(5)]})
    teacher_b = _report(tmp_path / "tb", {"rule-based/labels": [episode(s, 0.7) for s in range(5, 10)]})
    rl_a = _report(tmp_path / "ra", {"ppo/labels": [episode(s, 0.9) for s in range(5)]})
    rl_b = _report(tmp_path / "rb", {"ppo/labels": [episode(s, 0.9) for s in range(5, 10)]})
    assert main(["eval", "compare", f"{teacher_a}+{teacher_b}", f"{rl_a}+{rl_b}:ppo/labels", "--json"]) == 0
    (c,) = json.loads(capsys.readouterr().out)["comparisons"]
    assert c["routes"] == 10 and c["routes_won"] == 10 and c["candidate"] == f"{rl_a}+{rl_b}:ppo/labels"
    bad = [(f"{teacher_a}+{teacher_a}", "seed 0 is in more than one of the pooled runs"),
           (f"{teacher_a}+{_report(tmp_path / 'h', {'rule-based/labels': [episode(20, 1.0)]}, scenario='highway')}",
            "pooled runs differ in scenario"),
           (f"{teacher_a}+{rl_b}:rule-based/labels", "row 'rule-based/labels' is not in that report")]
    for base, message in bad:
        assert main(["eval", "compare", base, rl_a]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (base, err)
