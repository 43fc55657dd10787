"""Turning run tables into statistics, figures and verdicts on the seed's claims.

Everything here works on pandas DataFrames (a row per run, as ``experiments.report.load``
returns them) and on per-run ``history.csv`` tables, so it can be tested on fabricated data.
"""
