"""SeriesView: a sequence that ends at the current bar and never shows a later one."""

from __future__ import annotations

import numpy as np
import pytest

from quantkit.errors import LookAheadError
from quantkit.strategy.series import Cursor, SeriesView

VALUES = [10.0, 11.0, 12.0, 13.0, 14.0]


@pytest.fixture
def array() -> np.ndarray:
    return np.array(VALUES)


def view_at(array: np.ndarray, index: int) -> SeriesView:
    cursor = Cursor()
    cursor.i = index
    return SeriesView("close", array, cursor)


def test_a_new_cursor_is_before_the_first_bar() -> None:
    assert Cursor().i == -1


def test_negative_indices_count_back_from_the_current_bar(array: np.ndarray) -> None:
    view = view_at(array, 2)
    assert (view[-1], view[-2], view[-3]) == (12.0, 11.0, 10.0)
    assert type(view[-1]) is float


def test_non_negative_indices_count_from_the_first_bar(array: np.ndarray) -> None:
    view = view_at(array, 2)
    assert (view[0], view[1], view[2]) == (10.0, 11.0, 12.0)


def test_len_grows_with_the_cursor(array: np.ndarray) -> None:
    view = view_at(array, -1)
    lengths = []
    currents = []
    for i in range(len(VALUES)):
        view._cursor.i = i
        lengths.append(len(view))
        currents.append(view[-1])
    assert lengths == [1, 2, 3, 4, 5]
    assert currents == VALUES


def test_reading_before_the_first_bar(array: np.ndarray) -> None:
    view = view_at(array, -1)
    assert len(view) == 0
    assert view.values.shape == (0,)
    assert list(view) == []
    with pytest.raises(IndexError, match="0 bars seen"):
        view[-1]
    with pytest.raises(IndexError):
        _ = view.last
    with pytest.raises(LookAheadError):
        view[0]


def test_too_far_back_is_an_index_error(array: np.ndarray) -> None:
    view = view_at(array, 2)
    with pytest.raises(IndexError, match=r"close\[-4\]: only 3 bars seen"):
        view[-4]
    with pytest.raises(IndexError):
        view[-100]


@pytest.mark.parametrize("key", [3, 4, 5, 100])
def test_a_positive_index_past_the_cursor_is_look_ahead(array: np.ndarray, key: int) -> None:
    view = view_at(array, 2)
    with pytest.raises(LookAheadError, match=rf"close\[{key}\] is after the current bar"):
        view[key]


def test_look_ahead_error_is_not_an_index_error(array: np.ndarray) -> None:
    # A strategy's `except IndexError` (warm-up guard) must not swallow a look-ahead bug.
    view = view_at(array, 0)
    with pytest.raises(LookAheadError) as info:
        view[1]
    assert not isinstance(info.value, IndexError)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (slice(None), [10.0, 11.0, 12.0]),
        (slice(1, None), [11.0, 12.0]),
        (slice(-2, None), [11.0, 12.0]),
        (slice(0, 5), [10.0, 11.0, 12.0]),  # a stop past the cursor is clipped
        (slice(2, 100), [12.0]),
        (slice(3, None), []),
        (slice(None, None, -1), [12.0, 11.0, 10.0]),
        (slice(None, None, 2), [10.0, 12.0]),
        (slice(-100, -1), [10.0, 11.0]),
    ],
)
def test_slices_show_only_the_visible_part(
    array: np.ndarray, key: slice, expected: list[float]
) -> None:
    part = view_at(array, 2)[key]
    assert isinstance(part, np.ndarray)
    assert part.tolist() == expected


def test_slices_are_read_only_views_without_copies(array: np.ndarray) -> None:
    part = view_at(array, 2)[1:]
    assert not part.flags.writeable
    assert np.shares_memory(part, array)
    with pytest.raises(ValueError, match="read-only"):
        part[0] = 99.0
    assert array[1] == 11.0


def test_values_is_a_read_only_view_up_to_the_cursor(array: np.ndarray) -> None:
    view = view_at(array, 3)
    values = view.values
    assert values.tolist() == [10.0, 11.0, 12.0, 13.0]
    assert not values.flags.writeable
    assert np.shares_memory(values, array)
    with pytest.raises(ValueError, match="read-only"):
        values[-1] = 0.0
    view._cursor.i = 4
    assert view.values.tolist() == VALUES


def test_last_is_the_current_value(array: np.ndarray) -> None:
    view = view_at(array, 1)
    assert view.last == 11.0
    view._cursor.i = 4
    assert view.last == 14.0


def test_iteration_yields_floats_up_to_the_cursor(array: np.ndarray) -> None:
    view = view_at(array, 2)
    items = list(view)
    assert items == [10.0, 11.0, 12.0]
    assert all(type(item) is float for item in items)
    assert sum(view) == 33.0


@pytest.mark.parametrize("key", ["1", 1.0, None, (0,), [0]])
def test_other_keys_are_a_type_error(array: np.ndarray, key: object) -> None:
    view = view_at(array, 2)
    with pytest.raises(TypeError, match="close indices must be integers or slices"):
        view[key]  # type: ignore[index]


def test_numpy_integer_keys_index_like_ints(array: np.ndarray) -> None:
    view = view_at(array, 2)
    assert view[np.int64(-1)] == 12.0
    assert view[np.int64(0)] == 10.0


def test_several_views_share_one_cursor(array: np.ndarray) -> None:
    cursor = Cursor()
    close = SeriesView("close", array, cursor)
    double = SeriesView("double", array * 2, cursor)
    cursor.i = 3
    assert (close[-1], double[-1], len(close), len(double)) == (13.0, 26.0, 4, 4)


def test_append_extends_the_history_after_a_scalar_read() -> None:
    cursor = Cursor()
    view = SeriesView("close", np.array([1.0, 2.0]), cursor)
    cursor.i = 1
    assert view[-1] == 2.0  # builds the scalar cache
    view._append(np.array([3.0, 4.0]))
    assert len(view) == 2  # the caller moves the cursor
    with pytest.raises(LookAheadError):
        view[2]
    cursor.i = 3
    assert (view[-1], view[2], len(view)) == (4.0, 3.0, 4)
    assert view.values.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_append_before_any_scalar_read() -> None:
    cursor = Cursor()
    view = SeriesView("close", np.array([1.0]), cursor)
    view._append(np.array([5.0]))
    cursor.i = 1
    assert (view[-1], view[0]) == (5.0, 1.0)


def test_repr_names_the_series_and_bars_seen(array: np.ndarray) -> None:
    assert repr(view_at(array, 2)) == "<SeriesView close bars=3>"


def test_views_of_arrays_with_an_explicit_byte_order_read_as_python_scalars() -> None:
    from quantkit.strategy.series import native_view

    # What an array rebuilt in another process can look like: an explicit byte order in the
    # buffer's format ("<q", "<d"), which a memoryview refuses to index.
    little_int = np.dtype(np.int64).newbyteorder("<")
    little_float = np.dtype(np.float64).newbyteorder("<")
    ints = np.ndarray(4, dtype=little_int, buffer=np.arange(4, dtype=np.int64).tobytes())
    floats = np.ndarray(2, dtype=little_float, buffer=np.array([0.5, 1.5]).tobytes())
    assert ints.data.format == "<q"
    with pytest.raises(NotImplementedError):
        ints.data[0]
    assert native_view(ints)[3] == 3
    assert native_view(floats)[1] == 1.5
    assert type(native_view(floats)[1]) is float
    assert list(native_view(np.arange(6, dtype=np.int64)[::2])) == [0, 2, 4]


def test_a_strided_column_reads_its_own_values_and_is_copied_only_when_read() -> None:
    block = np.arange(12, dtype=np.float64).reshape(4, 3)  # column 1 of a row-major block
    column = block[:, 1]
    assert not column.flags.c_contiguous
    cursor = Cursor()
    view = SeriesView("mid", column, cursor)
    cursor.i = 2
    assert view._scalars.__class__.__name__ == "_Deferred"  # no copy before the first read
    assert (view[-1], view[0], len(view)) == (7.0, 1.0, 3)
    assert type(view[-1]) is float
    with pytest.raises(LookAheadError):
        view[3]


def test_a_view_survives_pickling_after_scalar_reads(array: np.ndarray) -> None:
    import pickle

    view = view_at(array, 2)
    assert view[-1] == 12.0
    copy = pickle.loads(pickle.dumps(view))
    assert (copy[-1], copy[0], len(copy)) == (12.0, 10.0, 3)
    copy._cursor.i = 4
    assert copy[-1] == 14.0
    with pytest.raises(LookAheadError):
        copy[5]
