"""Suite-wide hooks: the board builds start in the background as soon as the suite is
collected (tests/board_builds.py), and their tests run last, so that nextpnr's half hour on one core
overlaps the rest of the suite on the other."""

from __future__ import annotations

import board_builds

#: The module whose tests read the background builds' results.
BUILD_TESTS = "test_boards_build.py::"


def _build_items(items):
    return [item for item in items if BUILD_TESTS in item.nodeid]


def _build_name(item) -> str:
    """The background build (board_builds.BUILDS) that a test of test_boards_build.py reads."""
    callspec = getattr(item, "callspec", None)
    return callspec.params["board"] if callspec else "icebreaker-2-lanes"


def pytest_collection_modifyitems(session, config, items):
    """Order the build tests last: they wait for builds that run while the others do."""
    builds = _build_items(items)
    items[:] = [item for item in items if item not in builds] + builds


def pytest_collection_finish(session):
    """Start the builds whose tests are selected (after -k and the like), longest first."""
    wanted = {_build_name(item) for item in _build_items(session.items)}
    names = [name for name in board_builds.BUILDS if name in wanted]
    if names and not session.config.option.collectonly:
        board_builds.running = board_builds.BackgroundBuilds(names)


def pytest_sessionfinish(session, exitstatus):
    if board_builds.running is not None:
        board_builds.running.stop(keep=exitstatus != 0)
