"""Splink settings from an :class:`identity.match.MatchSpec`: comparisons and blocking rules.

Every level is a Splink library level (Jaro-Winkler, Damerau-Levenshtein, date difference,
term-frequency adjustment); no similarity of our own. The SQL is written once and translated by
Splink for each backend.
"""

from __future__ import annotations

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

from identity.match import ID_COLUMN, Comparison, MatchSpec


DATE_FORMATS = {"duckdb": "%Y-%m-%d", "spark": "yyyy-MM-dd"}
"""``YYYY-MM-DD`` (what :func:`identity.match.clean_date` writes) in each backend's date format:
the one piece of the settings Splink does not translate (it passes the format through)."""


def _date_comparison(c: Comparison, dialect: str) -> cl.CustomComparison:
    col = c.column
    levels = [
        cll.NullLevel(col),
        cll.ExactMatchLevel(col, term_frequency_adjustments=c.term_frequency),
        cll.DamerauLevenshteinLevel(col, 1).configure(label_for_charts="one edit (typo, transposed digits)"),
        cll.CustomLevel(
            f"substr({col}_l, 1, 4) = substr({col}_r, 1, 4) "
            f"AND substr({col}_l, 6, 2) = substr({col}_r, 9, 2) "
            f"AND substr({col}_l, 9, 2) = substr({col}_r, 6, 2)",
            label_for_charts="day and month swapped",
        ),
    ]
    for days in c.thresholds:
        levels.append(cll.AbsoluteDateDifferenceLevel(
            col, input_is_string=True, threshold=int(days), metric="day", datetime_format=DATE_FORMATS[dialect]
        ).configure(label_for_charts=f"within {int(days)} days"))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(comparison_levels=levels, output_column_name=col,
                               comparison_description=f"{col}: exact, one edit, swapped, within days")


def _similarity_comparison(c: Comparison) -> cl.CustomComparison:
    col = c.column
    levels = [cll.NullLevel(col), cll.ExactMatchLevel(col, term_frequency_adjustments=c.term_frequency)]
    if c.max_edits:  # keying errors: a wrong, dropped, extra or swapped letter ("krnneth", "beenda")
        edits = "one keying error" if c.max_edits == 1 else f"up to {c.max_edits} keying errors"
        levels.append(cll.DamerauLevenshteinLevel(col, c.max_edits).configure(
            label_for_charts=f"{edits} (Damerau-Levenshtein <= {c.max_edits})"))
    for t in c.thresholds:
        levels.append(cll.JaroWinklerLevel(col, t))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(comparison_levels=levels, output_column_name=col,
                               comparison_description=f"{col}: exact, {'keying errors, ' if c.max_edits else ''}"
                                                      "then Jaro-Winkler")


def _edit_comparison(c: Comparison) -> cl.CustomComparison:
    col = c.column
    levels = [cll.NullLevel(col), cll.ExactMatchLevel(col, term_frequency_adjustments=c.term_frequency)]
    for t in c.thresholds:
        levels.append(cll.DamerauLevenshteinLevel(col, int(t)))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(comparison_levels=levels, output_column_name=col,
                               comparison_description=f"{col}: exact, then Damerau-Levenshtein")


def _address_comparison(c: Comparison) -> cl.CustomComparison:
    """One comparison for the whole location, so address, postal code and city (which agree
    together) are counted once, not three times: exact address in the same (or an unknown)
    postal code, then similar address in the same postal code, then only the postal code, then
    only the city."""
    col, postal, city = c.column, c.postal_code, c.city
    nulls = [cll.NullLevel(x) for x in (col, postal, city) if x]
    levels = [
        (cll.And(*nulls) if len(nulls) > 1 else nulls[0]).configure(is_null_level=True,
                                                                    label_for_charts="no location on one side"),
        (cll.And(cll.ExactMatchLevel(col), cll.Or(cll.ExactMatchLevel(postal), cll.NullLevel(postal)))
         if postal else cll.ExactMatchLevel(col)).configure(label_for_charts="same address"),
    ]
    for t in c.thresholds:
        level = cll.And(cll.JaroWinklerLevel(col, t), cll.ExactMatchLevel(postal)) if postal else cll.JaroWinklerLevel(col, t)
        levels.append(level.configure(label_for_charts=f"similar address (Jaro-Winkler >= {t})"))
    if postal:
        levels.append(cll.ExactMatchLevel(postal).configure(label_for_charts="same postal code only"))
    if city:
        levels.append(cll.ExactMatchLevel(city).configure(label_for_charts="same city only"))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(comparison_levels=levels, output_column_name=col,
                               comparison_description=f"{col}: location (address, postal code, city)")


def comparison(c: Comparison, dialect: str = "duckdb"):
    """The Splink comparison for one spec comparison (``dialect``: the SQL backend it runs on)."""
    if c.method == "exact":
        return cl.ExactMatch(c.column).configure(term_frequency_adjustments=c.term_frequency)
    if c.method == "email":
        return cl.EmailComparison(c.column)
    if c.method == "date":
        return _date_comparison(c, dialect)
    if c.method == "address":
        return _address_comparison(c)
    if c.method == "edit_distance":
        return _edit_comparison(c)
    return _similarity_comparison(c)  # name, jaro_winkler


def splink_settings(spec: MatchSpec, dialect: str = "duckdb") -> SettingsCreator:
    """A dedupe model over one table of person rows (``unique_id`` + the spec's columns).

    ``linker_uid`` is fixed so the saved model depends only on the data and the seed.
    """
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=ID_COLUMN,
        comparisons=[comparison(c, dialect) for c in spec.comparisons],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in spec.blocking_rules],
        retain_matching_columns=True,  # the gamma (level) columns: each link explains itself
        retain_intermediate_calculation_columns=True,
        linker_uid=f"ucid_{spec.name}",
    )


TRAINED_KEYS = ("m_probability", "u_probability")
"""What training sets on a comparison level (the rest of a level is its SQL and label)."""


def trained_settings(splink_model: dict, spec: MatchSpec, dialect: str) -> dict:
    """A trained model's Splink settings with the SQL of ``dialect``.

    A saved model is Splink JSON in the dialect it was trained on (DuckDB): its conditions quote
    columns as ``"first_name_l"``, which Spark SQL reads as a string literal, and its functions
    are DuckDB's (``jaro_winkler_similarity``). So the settings are built again from the spec
    for ``dialect`` and the trained parameters (lambda, every level's m and u) copied over, level
    by level. Raises ``ValueError`` if the model's comparisons are not the spec's (other
    columns, levels or labels): the parameters would land on the wrong levels.
    """
    fresh = splink_settings(spec, dialect).create_settings_dict(dialect)
    theirs, ours = splink_model["comparisons"], fresh["comparisons"]
    if [c["output_column_name"] for c in theirs] != [c["output_column_name"] for c in ours]:
        raise ValueError(f"model comparisons {[c['output_column_name'] for c in theirs]} "
                         f"are not the spec's {[c['output_column_name'] for c in ours]}")
    for trained, comp in zip(theirs, ours, strict=True):
        levels, fresh_levels = trained["comparison_levels"], comp["comparison_levels"]
        labels = [lvl.get("label_for_charts") for lvl in levels]
        if labels != [lvl.get("label_for_charts") for lvl in fresh_levels]:
            raise ValueError(f"comparison {comp['output_column_name']}: model levels {labels} are not the spec's")
        for level, fresh_level in zip(levels, fresh_levels, strict=True):
            for key in TRAINED_KEYS:
                if key in level:
                    fresh_level[key] = level[key]
    fresh["probability_two_random_records_match"] = splink_model["probability_two_random_records_match"]
    return fresh
