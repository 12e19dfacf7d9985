"""SQLAlchemy quickstart: one line turns recording on for an engine.

    RYFT_INGEST_TOKEN=... python examples/sqlalchemy_quickstart.py                 # to Ryft
    RYFT_OUTPUT=queries.jsonl python examples/sqlalchemy_quickstart.py             # to a local file
    RYFT_OUTPUT=- python examples/sqlalchemy_quickstart.py postgresql+psycopg://user@host/db

The optional argument is any SQLAlchemy URL (default: an in-memory SQLite database).
"""

from __future__ import annotations

import sys

import sqlalchemy as sa

import ryft_instrument


def main(url: str) -> None:
    engine = ryft_instrument.instrument(sa.create_engine(url))  # the one line; or instrument() for every engine
    metadata = sa.MetaData()
    note = sa.Table("ryft_quickstart_note", metadata,
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("author", sa.String(50), nullable=False),
                    sa.Column("body", sa.Text, nullable=False))
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(note.insert(), [{"author": "ada", "body": "first"}, {"author": "grace", "body": "second"},
                                     {"author": "ada", "body": "third"}])
        # Parameter values (here "ada") are never recorded: the record holds the SQL text with its placeholders.
        conn.execute(sa.select(note.c.body).where(note.c.author == "ada")).all()
        with ryft_instrument.tags("report:authors"):  # tags for the statements inside the block
            conn.execute(sa.select(note.c.author, sa.func.count()).group_by(note.c.author)).all()
        conn.execute(note.update().where(note.c.id == 2).values(body="edited"))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT no_such_column FROM ryft_quickstart_note"))
    except sa.exc.DBAPIError as exc:
        print("a failing statement is recorded too: %s" % type(exc.orig).__name__)
    metadata.drop_all(engine)
    engine.dispose()
    # Records are sent in the background; a short-lived script waits for them before it exits (this also happens
    # by itself at exit, bounded by RYFT_SHUTDOWN_TIMEOUT).
    delivered = ryft_instrument.flush(timeout=5.0)
    print("delivered: %s; stats: %s" % (delivered, {k: v for k, v in ryft_instrument.stats().items() if v}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite://")
