"""bench/example_switch.py's summaries and its report rows, on hand-made stamps (no browser)."""

import pytest

from bench.example_switch import heading, phases, summarise
from bench.report import switch_details, switch_rows
from explorer.page import presets


def test_phases_split_a_switch_at_the_first_message_sent_and_the_last_received():
    timed = phases({"start": 1000.0, "sent": 1100.0, "received": 1600.0, "drawn": 1850.0, "ran": True})
    assert timed == pytest.approx({"total": 0.85, "before_send": 0.1, "server": 0.5, "drawing": 0.25})


def test_a_switch_with_no_message_stamped_charges_everything_to_drawing():
    timed = phases({"start": 10.0, "sent": None, "received": None, "drawn": 310.0})
    assert timed == pytest.approx({"total": 0.3, "before_send": 0.0, "server": 0.0, "drawing": 0.3})


def test_summarise_gives_percentiles_in_ms_per_phase():
    switches = [{"total": t, "before_send": 0.1, "server": t - 0.3, "drawing": 0.2} for t in (0.4, 0.5, 0.6, 2.4)]
    s = summarise(switches)
    assert s["total"]["p50"] == pytest.approx(550)
    assert s["total"]["max"] == pytest.approx(2400)
    assert s["total"]["p95"] == pytest.approx(600 + 0.85 * 1800)  # rank 2.85 of 0..3
    assert s["before_send"]["p95"] == pytest.approx(100) and s["total"]["n"] == 4


def test_heading_is_the_output_layer_without_spaces_and_stops_at_a_list():
    assert heading(presets.BY_KEY["neuron"]) == "o=tanh(x@w+b)"
    assert heading(presets.BY_KEY["softmax_cross_entropy"]) == "loss=-log(sum(p*detach("


def result(every_p95, bias_max):
    part = lambda p95, mx: {name: {"p50": 300.0, "p95": p95, "max": mx, "n": 4}  # noqa: E731
                            for name in ("total", "before_send", "server", "drawing")}
    return {"all": part(every_p95, 2400.0), "first": part(1200.0, 2400.0), "second": part(600.0, 700.0),
            "bias": part(900.0, bias_max),
            "switches": [[{"example": "polynomial", "total": 2400, "before_send": 100, "server": 2000,
                           "drawing": 300}]]}


def test_the_switch_row_passes_at_one_second_and_misses_above():
    assert switch_rows(result(1000.0, 1300.0))[0][3] == "**pass**"
    row = switch_rows(result(1001.0, 1300.0))[0]
    assert row[1] == "p95 ≤ 1 s" and row[3] == "**miss**"
    assert row[2].startswith("1,001 ms (1,200 ms / 600 ms;")
    assert "1,300 ms" in switch_rows(result(1000.0, 1300.0))[1][2]


def test_the_details_name_the_slowest_switch():
    assert "polynomial 2,400 ms (server 2,000 ms)" in switch_details(result(1000.0, 1300.0))


def test_the_headline_judges_cold_start_by_issue_17s_target_floor_plus_4_s():
    from bench.report import headline

    def row(app, floor):
        [cold] = [r for r in headline({"cold_start": {"app": {"drawn_s": app}, "floor": {"drawn_s": floor}}})
                  if r[0].startswith("Cold start")]
        return cold

    assert row(5.9, 2.9) == ("Cold start to first complete page: app − floor (issue 17)", "≤ 4 s",
                             "3.0 s (5.9 s / 2.9 s, 2.03×)", "**pass**")
    assert row(7.3, 2.5)[3] == "**miss**"


def test_memory_targets_in_mb_are_compared_in_the_bench_unit_mib():
    """The bench counts MiB; Cloud's 690 MB tier is 658 MiB. A burst peaking at 670 MiB (703 MB) is over it."""
    from bench.common import mib
    from bench.report import budget_rows, load_rows

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
