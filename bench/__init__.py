"""Seam's benchmark harness: `python -m bench [--backend sqlite|postgres|both] [--quick]`.

Measures, in one run and on the same machine, the ceilings (a trivial endpoint on the same web
stack, raw batched inserts into the real `events` table) and Seam itself over HTTP (single and
batch ingest, identify with back-fill, timeline pages), then reports each figure as a ratio to
its ceiling or target. Not collected by pytest.
"""
