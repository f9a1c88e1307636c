"""bench/report.py's headline rows judge what they measure against the issues' targets, in the targets' units."""

from bench.common import mib
from bench.report import budget_rows, headline, load_rows


def test_the_headline_judges_cold_start_by_issue_17s_target_floor_plus_4_s():
    def row(app, floor):
        [cold] = [r for r in headline({"cold_start": {"app": {"drawn_s": app}, "floor": {"drawn_s": floor}}})
                  if r[0].startswith("Cold start")]
        return cold

    assert row(5.9, 2.9) == ("Cold start to first complete page: app − floor (issue 17)", "≤ 4 s",
                             "3.0 s (5.9 s / 2.9 s, 2.03×)", "**pass**")
    assert row(7.3, 2.5)[3] == "**miss**"


def test_memory_targets_in_mb_are_compared_in_the_bench_unit_mib():
    """The bench counts MiB; Cloud's 690 MB tier is 658 MiB. A burst peaking at 670 MiB (703 MB) is over it."""
    assert round(mib(690)) == 658
    victim = {"p95": 200.0, "max": 300.0, "n": 5}
    budget = {"budget_mb": 690, "idle_mb": 432.0, "victim": victim, "victim_failed": {}, "outcomes": {},
              "heavy_asked": 0, "deadline_s": 150.0}
    [peak, _] = budget_rows({**budget, "peak_mb": 670.0})
    assert peak[1:] == ("≤ 690 MB (658 MiB)", "670 MiB (idle 432 MiB)", "**miss**")
    assert budget_rows({**budget, "peak_mb": 650.0})[0][3] == "**pass**"
    single, edits = {"p95": 20.0}, {"p95": 30.0, "n": 100}
    load = {"edits": edits, "single": single, "error_count": 0, "rss_before_mb": 500.0, "rss_after_mb": 580.0,
            "pss_peak_mb": 400.0}
    assert load_rows({**load, "rss_peak_mb": 590.0}, "")[2][3] == "**miss**"  # 619 MB > 600 MB
    assert load_rows({**load, "rss_peak_mb": 570.0}, "")[2][3] == "**pass**"


def test_the_heavier_servers_budget_rows_say_how_much_larger_it_started():
    victim = {"p95": 40.0, "max": 60.0, "n": 20}
    budget = {"budget_mb": 690, "ballast_mb": 60, "idle_mb": 488.0, "peak_mb": 640.0, "victim": victim,
              "victim_failed": {}, "outcomes": {}, "heavy_asked": 0, "deadline_s": 150.0}
    peak, edits = budget_rows(budget)
    assert "the server 60 MB larger than the model" in peak[0] and "60 MB larger" in edits[0]
    assert peak[2:] == ("640 MiB (idle 488 MiB)", "**pass**")
    assert "larger" not in budget_rows({**budget, "ballast_mb": None})[0][0]


def test_back_to_back_edits_pass_without_a_stall_and_miss_with_one():
    from bench.report import back_to_back_rows

    spaced = {"spaced": 23.0, "spaced_s": 0.4, "edits": 30}
    floor = {**spaced, "spaced": 3.4, "back_to_back": 47.8}
    [row] = back_to_back_rows({"back_to_back": {**spaced, "back_to_back": 17.0}, "back_to_back_floor": floor})
    assert row[3] == "**pass**" and "0.74×" in row[2] and "14.06×" in row[2]
    [row] = back_to_back_rows({"back_to_back": {**spaced, "back_to_back": 48.0}, "back_to_back_floor": floor})
    assert row[3] == "**miss**"
    assert back_to_back_rows({"real": {}}) == []
