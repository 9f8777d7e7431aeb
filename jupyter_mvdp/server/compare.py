"""Compare (nbdime) without papermill's noise: two points' output notebooks differ in every
cell's ``papermill`` timings and ``execution`` timestamps, which nbdime shows as a "Metadata
changed" block per cell even with "Hide unchanged cells". Those keys are ignored by the
nbdime server extension's differ (a process-wide table), other metadata still shows.
"""

from __future__ import annotations

PAPERMILL_METADATA = {
    "/cells/*/metadata": ["papermill", "execution"],
    "/metadata": ["papermill"],
}


def hide_papermill_metadata() -> bool:
    """Ignore papermill's timing metadata in nbdime's diffs; False without nbdime."""
    try:
        from nbdime.diffing.notebooks import set_notebook_diff_ignores
    except ImportError:
        return False
    set_notebook_diff_ignores(PAPERMILL_METADATA)
    return True
