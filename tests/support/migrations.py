"""Running a data migration over rows a test made."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def remigrate(app: str, *, before: str, after: str) -> None:
    """Migrate ``app`` back to ``before`` and forward to ``after``, so the migrations between
    them run on the rows in the database now; then, whatever happened, restore the latest
    schema for the next test."""
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([(app, before)])
        executor.loader.build_graph()
        executor.migrate([(app, after)])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
