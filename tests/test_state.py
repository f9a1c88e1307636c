"""Every value a link or a message can set, checked in one place: bad values become defaults, never exceptions."""

import math

import pytest

from explorer.engine import limits
from explorer.page import presets, state

# The defaults, written out by hand: what the page shows when a link carries nothing usable.
DEFAULTS = {
    "preset": presets.PRESETS[0].title,
    "x": "[[1., 2, 3], [3, 2, 1]]",
    "layers": "y = 3*x + 2\nz = 2*y**2",
    "reduction": "sum",
    "element": "",
    "element_index": "0",
    "plain_graph": False,
    "backward_step": 0,
    "present": False,
    "values": "x.grad",
    "chain": False,
    "verify": False,
    "export": False,
    "second": False,
    "parabola": False,
    "train": False,
    "lr": "0.1",
    "steps": "20",
    "optimizer": "sgd",
    "log_loss": False,
    "train_step": 0,
    "hide": "",
    "fold": False,
    "vector": "",
    "jacobian": False,
    "accumulate": False,
    "saved": False,
}

HUGE_INT = 10**5000  # repr() of it raises ValueError in Python 3.11
NOT_TEXTS = [math.inf, -math.inf, math.nan, 1e400, -1e400, HUGE_INT, -HUGE_INT, 2.5, 3.0, None, [1], {"a": 1}, b"7",
             state.UNREADABLE]
NUMBER_TEXTS = ["inf", "nan", "1e400", "-1e400", "9" * 5000, "3.0", "1e3"]
NOT_FREE_TEXT = ["preset", "reduction", "element_index", "plain_graph", "backward_step", "present", "values", "chain",
                 "verify", "export", "second", "parabola", "steps", "optimizer", "log_loss", "train_step", "train",
                 "fold", "jacobian", "accumulate", "saved"]


def check_one(key, value):
    clean, notices = state.validated({key: value})
    return clean[key], notices.get(key)


def assert_rejected(key, value):
    clean, notice = check_one(key, value)
    assert clean == DEFAULTS[key] and type(clean) is type(DEFAULTS[key]), (key, value, clean)
    assert notice and notice.startswith(key) and "\n" not in notice and len(notice) < 200, notice


def test_every_shared_key_has_a_field_and_a_default_the_field_allows():
    assert set(state.FIELDS) == set(DEFAULTS)
    assert set(state.SHARED_KEYS) <= set(state.FIELDS)
    clean, notices = state.validated(DEFAULTS)
    assert clean == DEFAULTS and not notices


@pytest.mark.parametrize("key", sorted(DEFAULTS))
@pytest.mark.parametrize("value", NOT_TEXTS, ids=lambda value: type(value).__name__)
def test_a_number_or_an_object_from_outside_gets_the_default(key, value):
    assert_rejected(key, value)


@pytest.mark.parametrize("key", NOT_FREE_TEXT)
@pytest.mark.parametrize("value", NUMBER_TEXTS)
def test_a_number_that_is_not_a_whole_one_or_an_option_gets_the_default(key, value):
    assert_rejected(key, value)


@pytest.mark.parametrize("key", ["preset", "x", "layers", "reduction", "element", "element_index", "backward_step"])
def test_true_is_no_text_and_no_number(key):
    assert_rejected(key, True)


@pytest.mark.parametrize("text", ["0", "7", " 42 ", str(limits.MAX_X_ELEMENTS - 1)])
def test_element_index_takes_whole_numbers_as_text_in_range(text):
    assert check_one("element_index", text) == (str(int(text)), None)


@pytest.mark.parametrize("value", [str(limits.MAX_X_ELEMENTS), "-1", "+-3", "0x10", "1_000", "٣", "", "seven", 7])
def test_element_index_out_of_range_or_not_decimal_text_gets_0(value):
    assert_rejected("element_index", value)


@pytest.mark.parametrize("value", [0, 5, "5", limits.MAX_TOTAL_NODES + 2])
def test_backward_step_takes_whole_numbers_up_to_the_largest_graph(value):
    assert check_one("backward_step", value) == (int(value), None)


@pytest.mark.parametrize("value", [limits.MAX_TOTAL_NODES + 3, -1, "-1", 2**63, "99999999999999999999999"])
def test_backward_step_out_of_range_gets_0(value):
    assert_rejected("backward_step", value)


@pytest.mark.parametrize("key", ["plain_graph", "present", "fold", "jacobian", "accumulate", "saved"])
@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("False", False),
                                                 ("TRUE", True)])
def test_flags_take_booleans_and_their_link_spelling(key, value, expected):
    assert check_one(key, value) == (expected, None)


@pytest.mark.parametrize("key", ["plain_graph", "present", "fold", "jacobian", "accumulate", "saved"])
@pytest.mark.parametrize("value", [1, 0, "1", "yes", "on", "", "t" * 10_000])
def test_flags_reject_everything_else(key, value):
    assert_rejected(key, value)


def test_every_preset_title_is_allowed_and_nothing_else():
    for preset in presets.PRESETS:
        assert check_one("preset", preset.title) == (preset.title, None)
    for value in ["nope", presets.PRESETS[1].key, presets.PRESETS[1].title.upper(), "", "p" * 1_000_000]:
        assert_rejected("preset", value)


def test_the_four_reductions_are_allowed_and_nothing_else():
    for name in ("sum", "mean", "ones_like", "vector"):  # select() gives sum when the page has no vector
        assert check_one("reduction", name) == (name, None)
    for value in ["max", "Sum", " sum", "", "s" * 100_000]:
        assert_rejected("reduction", value)


def test_element_labels_are_short_texts():
    assert check_one("element", "x[0, 2]") == ("x[0, 2]", None)
    assert_rejected("element", "x" * 65)


def test_x_and_layers_pass_any_text_to_the_engine_which_bounds_it():
    long_x = "1" * (limits.MAX_X_CHARS + 1)
    assert check_one("x", long_x) == (long_x, None)
    assert check_one("layers", "y = q") == ("y = q", None)


def test_hide_keeps_known_sections_in_page_order():
    assert check_one("hide", "steps, editor") == ("editor,steps", None)
    assert check_one("hide", "") == ("", None)
    assert_rejected("hide", "editor," * 100)  # longer than any list of sections


def test_hide_keeps_the_sections_it_names_rightly_and_notes_the_others():
    clean, notice = check_one("hide", "graph,bogus,plot")
    assert clean == "graph,plot" and "'bogus' is not a section" in notice
    clean, notice = check_one("hide", "EDITOR")
    assert clean == "" and "EDITOR" in notice


def test_keys_outside_the_state_are_ignored():
    assert state.validated({"element_index": "3", "evil": "x" * 100}) == ({"element_index": "3"}, {})


def test_notices_never_repeat_a_huge_value():
    _, notices = state.validated({"preset": "<b>" * 300_000, "backward_step": HUGE_INT, "x": 1e400})
    assert set(notices) == {"preset", "backward_step", "x"}
    assert all(len(notice) < 200 for notice in notices.values())
    assert "5,001-bit" not in notices["backward_step"] and "16,610-bit" in notices["backward_step"]  # 10**5000


# ---------------------------------------------------------------- ranges known from the result


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("99", 99), (" 42", 42), ("", 0), (None, 0)])
def test_index_within_accepts_indices_of_x(value, expected):
    assert state.index_within(value, 100) == (expected, None)


@pytest.mark.parametrize("value", ["100", "inf", "1e400", "-1e400", "-1", "abc", "9" * 5000, math.inf, 2.0])
def test_index_within_gives_element_0_and_says_why(value):
    index, notice = state.index_within(value, 100)
    assert index == 0 and "100 elements" in notice


def test_label_within_finds_the_element_or_the_first():
    labels = ["x[0, 0]", "x[0, 1]", "x[0, 2]"]
    assert state.label_within("x[0, 2]", labels) == (2, None)
    assert state.label_within("", labels) == (0, None)
    assert state.label_within(None, labels) == (0, None)
    for value in ["x[9]", "x[0,2]", ["x[0, 2]"], 2]:  # an earlier choice for another x: reset quietly
        assert state.label_within(value, labels) == (0, None)


def test_step_within_accepts_0_to_the_number_of_steps():
    assert [state.step_within(step, 4) for step in (0, 4, "3")] == [(0, None), (4, None), (3, None)]
    for value in (5, "5", -1, math.nan, True):
        step, notice = state.step_within(value, 4)
        assert step == 0 and "4 steps" in notice
