"""The match model on Splink 5: settings from the spec, training, the model file, scoring.

:mod:`identity.match` says *what* the model compares and decides; this package says how Splink
does it (DuckDB locally; the same settings run on Spark). Nothing here decides a link: scored
pairs go back to :func:`identity.match.match_edges`.
"""
