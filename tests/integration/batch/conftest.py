"""Fixtures of the batch-layer integration tests.

What the batch suite publishes to Cassandra goes to a keyspace of its own
(``<base>_batch[_gwN]``), which no other suite reads or truncates.
"""

from __future__ import annotations

import pytest

from ..conftest import suite_settings


@pytest.fixture(scope="session")
def batch_world(stack):
    """The batch suite's settings: its own keyspace and topic prefix (schema migrated)."""
    return suite_settings(stack, "batch")
