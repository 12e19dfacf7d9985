"""``ryft-instrument demo``: a small workload on SQLite, recorded to a local JSONL file, then summarised."""

from __future__ import annotations

import json
import os
from collections import Counter


def run_demo(output: str) -> int:
    import sqlalchemy as sa

    import ryft_instrument

    if os.path.exists(output):
        os.remove(output)
    ryft_instrument.configure(output=output, service="ryft-demo")
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.exec_driver_sql("CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER, title TEXT)")
        conn.execute(sa.text("INSERT INTO author (id, name) VALUES (:id, :name)"),
                     [{"id": i, "name": "author %d" % i} for i in range(1, 6)])
        conn.execute(sa.text("INSERT INTO book (author_id, title) VALUES (:a, :t)"),
                     [{"a": 1 + i % 5, "t": "book %d" % i} for i in range(20)])
        for author_id in range(1, 6):
            conn.execute(sa.text("SELECT title FROM book WHERE author_id = :a"), {"a": author_id}).fetchall()
        conn.execute(sa.text("SELECT a.name, count(*) FROM author a JOIN book b ON b.author_id = a.id "
                             "GROUP BY a.name")).fetchall()
        conn.execute(sa.text("UPDATE book SET title = upper(title) WHERE id = :id"), {"id": 3})
        conn.execute(sa.text("DELETE FROM book WHERE id = :id"), {"id": 4})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT no_such_column FROM book")
    except sa.exc.OperationalError:
        pass
    ryft_instrument.flush(5.0)
    with open(output, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    by_type = Counter(r["context"].get("queryType", "-") for r in records)
    failed = [r for r in records if r["queryState"] == "FAILED"]
    print("%d statements recorded to %s" % (len(records), output))
    for name, count in by_type.most_common():
        print("  %-16s %d" % (name, count))
    print("failed: %d" % len(failed))
    for r in failed:
        print("  %s: %s" % (r["failureInfo"]["errorCode"]["type"], r["query"]))
    print("slowest:")
    for r in sorted(records, key=lambda r: -r["duration_ms"])[:3]:
        print("  %8.3f ms  %s" % (r["duration_ms"], r["query"][:70]))
    return 0
