"""Realistic, reproducible test data for ucid: eight landing sources, a ground truth, a stream.

``generate_dataset(GenerateConfig(...))`` writes ``DIR/<source>/<YYYY-MM-DD>/part-NNNNN.<ext>``,
``DIR/truth/truth.csv`` and ``DIR/manifest.json`` (and optionally one time-ordered JSON-lines
stream). The output is a pure function of (seed, customers, days, start date): no wall clock.
See ``docs/data-generator.md`` for the sources, fields and every noise rate.
"""

from ucid.generate.runner import (
    GenerateConfig,
    GenerateError,
    Summary,
    generate_dataset,
)

__all__ = ["GenerateConfig", "GenerateError", "Summary", "generate_dataset"]
