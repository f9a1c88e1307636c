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
