"""Progress bars for long work (tqdm), shown only on a terminal unless asked."""

from __future__ import annotations

import contextlib
import sys

from tqdm import tqdm


@contextlib.contextmanager
def progress_bar(total: int, desc: str, unit: str, enabled: bool = True):
    """A tqdm bar with update(n); a no-op object when disabled."""
    with tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=not enabled, file=sys.stderr,
              dynamic_ncols=True) as bar:
        yield bar
