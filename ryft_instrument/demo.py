"""``ryft-instrument demo``: a realistic workload on embedded databases, recorded, then reported.

SQLite through SQLAlchemy (ORM and Core): schema creation, bulk inserts, joins, an N+1 from a lazy relationship,
EXPLAIN, an upsert, a savepoint, failing statements. When the DB-API integration is present, raw sqlite3 and DuckDB
(if installed, with a MERGE) run too. Records go to a local JSONL file, and to Ryft as well when
``RYFT_INGEST_TOKEN`` is set. No server, no network, a few seconds.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Optional

from . import report, runtime

AUTHORS = ("Ursula Le Guin", "Octavia Butler", "Stanisław Lem", "Iain Banks", "N. K. Jemisin", "Ted Chiang",
           "Becky Chambers", "Liu Cixin")
NEXT_STEPS = (
    ("ryft-instrument report {output} --html report.html", "the same report as a page for a browser"),
    ("RYFT_INGEST_TOKEN=... ryft-instrument send {output}", "ship these records to Ryft's Query Explorer"),
    ("RYFT_INGEST_TOKEN=... ryft-instrument python app.py", "record your own program, no code change"),
)


def run_demo(output: str, html_path: Optional[str] = None) -> int:
    """Run the workload, recording to ``output`` (overwritten); print the report. Returns the exit status."""
    try:
        import sqlalchemy  # noqa: F401 - checked before anything is recorded
    except ImportError:
        print("ryft-instrument demo: error: the demo needs SQLAlchemy: pip install 'ryft-instrument[sqlalchemy]'",
              file=sys.stderr)
        return 1
    if os.path.exists(output):
        os.remove(output)
    config = runtime.configure(output=output, service="ryft-demo", flush_interval=0.2)
    if config.disabled:
        print("ryft-instrument demo: error: RYFT_DISABLED is set, so nothing is recorded; unset it to run the demo",
              file=sys.stderr)
        return 1
    started = time.perf_counter()
    parts = ["SQLite (SQLAlchemy ORM and Core)"]
    _sqlalchemy_workload()
    for name, workload in (("SQLite (raw sqlite3)", _sqlite3_workload), ("DuckDB", _duckdb_workload)):
        if _optional(workload):
            parts.append(name)
    delivered = runtime.flush(10.0)
    elapsed = time.perf_counter() - started
    summary = report.summarise_file(output) if os.path.exists(output) else report.Summary(output)
    print("ryft-instrument demo: ran a workload on %s in %.2f s; records in %s" % (", ".join(parts), elapsed, output))
    if config.ingest_token:
        print("records %s to %s" % ("sent" if delivered else "NOT all delivered", config.ingest_url))
    print()
    sys.stdout.write(report.render_text(summary))
    if html_path:
        with open(html_path, "w", encoding="utf-8") as handle:
            handle.write(report.render_html(summary))
        print("\nHTML report: %s" % html_path)
    print()
    steps = [(command.format(output=output), why) for command, why in NEXT_STEPS]
    width = max(len(command) for command, _ in steps)
    print("Next steps")
    for command, why in steps:
        print("  %s   %s" % (command.ljust(width), why))
    return 0 if delivered and summary.records else 1


def _optional(workload: Callable[[], bool]) -> bool:
    """Run a workload whose integration or database may be missing; True if it ran."""
    try:
        return workload()
    except ImportError:
        return False


def _sqlalchemy_workload() -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    from sqlalchemy.orm import Session, declarative_base, relationship

    import ryft_instrument

    base: Any = declarative_base()

    class Author(base):
        __tablename__ = "author"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(100), nullable=False, unique=True)
        books = relationship("Book", back_populates="author", lazy="select")

    class Book(base):
        __tablename__ = "book"
        id = sa.Column(sa.Integer, primary_key=True)
        author_id = sa.Column(sa.Integer, sa.ForeignKey("author.id"), nullable=False, index=True)
        title = sa.Column(sa.String(200), nullable=False)
        year = sa.Column(sa.Integer)
        author = relationship("Author", back_populates="books")

    stock = sa.Table("stock", base.metadata, sa.Column("book_id", sa.Integer, primary_key=True),
                     sa.Column("copies", sa.Integer, nullable=False))

    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    with ryft_instrument.tags("demo:schema"):
        base.metadata.create_all(engine)
    with ryft_instrument.tags("demo:load"), Session(engine) as session:
        for i, name in enumerate(AUTHORS):
            session.add(Author(name=name, books=[Book(title="%s, volume %d" % (name, n), year=1960 + 3 * i + n)
                                                 for n in range(1, 4 + i % 3)]))
        session.commit()
    with ryft_instrument.tags("demo:pages"), Session(engine) as session:
        # The N+1: one query for the authors, then one more per author when .books is touched.
        for author in session.execute(sa.select(Author).order_by(Author.name)).scalars():
            len(author.books)
        session.execute(
            sa.select(Author.name, sa.func.count(Book.id), sa.func.min(Book.year))
            .join(Book, Book.author_id == Author.id).group_by(Author.name).order_by(sa.func.count(Book.id).desc())
        ).all()
        session.execute(sa.select(Book).where(Book.year.between(1965, 1975)).order_by(Book.year)).scalars().all()
    with ryft_instrument.tags("demo:maintenance"), engine.begin() as conn:
        conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT title FROM book WHERE author_id = 3 ORDER BY year")
        conn.execute(stock.insert(), [{"book_id": n, "copies": 2} for n in range(1, 11)])
        upsert = sqlite_insert(stock).values(book_id=sa.bindparam("b"), copies=sa.bindparam("c"))
        upsert = upsert.on_conflict_do_update(index_elements=["book_id"],
                                              set_={"copies": stock.c.copies + upsert.excluded.copies})
        conn.execute(upsert, [{"b": 3, "c": 5}, {"b": 40, "c": 1}])
        conn.execute(sa.update(Book).where(Book.year < 1963).values(title=sa.func.upper(Book.title)))
        nested = conn.begin_nested()
        conn.execute(sa.delete(stock).where(stock.c.copies < 2))
        nested.rollback()
        conn.exec_driver_sql("ANALYZE")
    with ryft_instrument.tags("demo:errors"):
        for statement in ("SELECT isbn FROM book", "INSERT INTO author (name) VALUES ('Ted Chiang')"):
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(statement)
            except sa.exc.DBAPIError:
                pass
    engine.dispose()


def _sqlite3_workload() -> bool:
    import sqlite3

    import ryft_instrument

    conn = ryft_instrument.instrument_connection(sqlite3.connect(":memory:"))
    with ryft_instrument.tags("demo:sqlite3"):
        conn.execute("CREATE TABLE visit (id INTEGER PRIMARY KEY, page TEXT, ms REAL)")
        conn.executemany("INSERT INTO visit (page, ms) VALUES (?, ?)", [("/book/%d" % (n % 7), n * 0.5)
                                                                        for n in range(200)])
        conn.execute("SELECT page, count(*), avg(ms) FROM visit GROUP BY page ORDER BY 2 DESC").fetchall()
        conn.execute("PRAGMA table_info(visit)").fetchall()
        _failing(conn, "SELECT * FROM visits", sqlite3.Error)
    conn.close()
    return True


def _duckdb_workload() -> bool:
    import duckdb

    import ryft_instrument

    conn = ryft_instrument.instrument_connection(duckdb.connect())
    with ryft_instrument.tags("demo:duckdb"):
        conn.execute("CREATE TABLE sale AS SELECT range AS id, range % 7 AS shop, (range * 37) % 101 AS amount "
                     "FROM range(20000)")
        conn.execute("CREATE TABLE shop_total (shop INTEGER PRIMARY KEY, total BIGINT)")
        conn.execute("MERGE INTO shop_total USING (SELECT shop, sum(amount) AS total FROM sale GROUP BY shop) s "
                     "ON shop_total.shop = s.shop WHEN MATCHED THEN UPDATE SET total = s.total "
                     "WHEN NOT MATCHED THEN INSERT VALUES (s.shop, s.total)")
        conn.execute("FROM shop_total ORDER BY total DESC LIMIT 3").fetchall()
        conn.execute("SUMMARIZE sale").fetchall()
        conn.execute("EXPLAIN SELECT shop, avg(amount) FROM sale GROUP BY shop").fetchall()
        _failing(conn, "SELECT * FROM refund", duckdb.Error)
    conn.close()
    return True


def _failing(conn: Any, statement: str, error: type[Exception]) -> None:
    """A statement that fails on purpose: its record carries the failure."""
    try:
        conn.execute(statement)
    except error:
        pass
