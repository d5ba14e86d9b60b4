"""The rule of small counts (controller/statistics/privacy.py): under 5 is shown as "< 5", and
no hidden count can be recomputed from a published total."""

from __future__ import annotations

from itertools import product

from controller.statistics.privacy import HIDDEN, protect, shown


def test_counts_under_five_are_hidden_and_the_others_shown():
    assert protect({"a": 0, "b": 4, "c": 5, "d": 12}) == {"a": None, "b": None, "c": 5, "d": 12}


def test_a_single_hidden_count_takes_the_smallest_shown_one_with_it():
    # 40 in all is published elsewhere: hiding b alone would give it back as 40 - 30 - 7.
    assert protect({"a": 30, "b": 3, "c": 7}) == {"a": 30, "b": None, "c": None}


def test_on_a_tie_the_first_smallest_count_is_hidden_with_it():
    assert protect({"a": 8, "b": 6, "c": 6, "d": 1}) == {"a": 8, "b": None, "c": 6, "d": None}


def test_nothing_is_hidden_when_every_count_is_large():
    assert protect({"a": 5, "b": 50}) == {"a": 5, "b": 50}


def test_no_hidden_count_can_be_recomputed_from_the_total():
    # Every breakdown of three cells from 0 to 9: knowing the total and the shown cells, the
    # hidden ones are never a single unknown.
    for cells in product(range(10), repeat=3):
        protected = protect(dict(enumerate(cells)))
        hidden = [key for key, value in protected.items() if value is None]
        assert len(hidden) != 1 or len(cells) == 1
        assert all(protected[k] is None for k, v in enumerate(cells) if v < 5)


def test_a_hidden_count_is_shown_as_less_than_five():
    assert (shown(None), shown(7)) == (HIDDEN, "7")
    assert HIDDEN == "< 5"
