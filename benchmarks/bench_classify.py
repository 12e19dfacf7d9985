"""Classifier, fingerprint and redaction cost (SPEC §8: ``query_type`` ≤ 3 µs uncached, ≤ 0.2 µs repeated; issue 3:
``fingerprint`` ≤ 10 µs uncached; ``redact_literals``, which has no cache, runs on the exporter thread for every
record under ``RYFT_REDACT_LITERALS=1``).

Uncached: every call sees a text it has never seen (distinct texts, built before the clock starts, caches cleared
first). Repeated: one text over and over, as applications do. Two statement mixes: ``orm`` (what SQLAlchemy's ORM
sends: SELECT with joins and IN lists, INSERT, UPDATE, DELETE, BEGIN/COMMIT/SAVEPOINT) and ``complex`` (WITH,
CREATE TABLE … AS, EXPLAIN ANALYZE, MySQL dump headers, leading comments). Interleaved rounds, medians
(``_common.compare``). Run: ``python -m benchmarks.bench_classify [--quick]``.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from typing import Any, Callable, Dict, List

from ryft_instrument.classify import clear_cache as clear_classify_cache
from ryft_instrument.classify import query_type
from ryft_instrument.fingerprinting import clear_cache as clear_fingerprint_cache
from ryft_instrument.fingerprinting import fingerprint, redact_literals

from ._common import Timed, compare

ORM = [
    "SELECT users.id, users.name, users.fullname FROM users WHERE users.id = ? AND users.name IN (?, ?, ?) -- {i}",
    "SELECT anon_1.users_id AS anon_1_users_id, anon_1.users_name AS anon_1_users_name, addresses_1.email "
    "FROM (SELECT users.id AS users_id, users.name AS users_name FROM users WHERE users.name = 'ed{i}' "
    "LIMIT ? OFFSET ?) AS anon_1 LEFT OUTER JOIN addresses AS addresses_1 ON anon_1.users_id = addresses_1.user_id",
    "INSERT INTO users (name, fullname) VALUES (?, ?) RETURNING id, {i}",
    "UPDATE users SET name=? WHERE users.id = {i}",
    "DELETE FROM addresses WHERE addresses.id = {i}",
    "BEGIN /* {i} */",
    "COMMIT /* {i} */",
    "SAVEPOINT sa_savepoint_{i}",
]
COMPLEX = [
    "WITH recent AS (SELECT id FROM orders WHERE created > now() - interval '1 day') "
    "SELECT count(*) FROM recent WHERE id > {i}",
    "WITH moved AS (DELETE FROM t WHERE id < {i} RETURNING *) INSERT INTO archive SELECT * FROM moved",
    "CREATE TABLE summary_{i} AS SELECT day, sum(amount) FROM sales GROUP BY day",
    "EXPLAIN ANALYZE UPDATE accounts SET balance = balance - {i} WHERE id = 7",
    "/*!40101 SET NAMES utf8mb4 */ -- {i}",
    "/* app:checkout,request:{i} */ SELECT * FROM carts WHERE id = ?",
    "SELECT * INTO TEMP t{i} FROM films",
    "COPY t{i} FROM STDIN WITH (FORMAT csv)",
]
MIXES = {"orm": ORM, "complex": COMPLEX}


def _texts(mix: List[str], n: int, offset: int) -> List[str]:
    return [mix[i % len(mix)].format(i=offset + i) for i in range(n)]


def _uncached(function: Callable[[str], Any], clear: Callable[[], None], mix: List[str]) -> Timed:
    batch = [0]

    def timed(n: int) -> float:
        batch[0] += 1
        texts = _texts(mix, n, batch[0] * 10_000_000)
        clear()
        start = time.perf_counter()
        for text in texts:
            function(text)
        return time.perf_counter() - start

    return timed


def _repeated(function: Callable[[str], Any], mix: List[str]) -> Timed:
    def timed(n: int) -> float:
        texts = _texts(mix, len(mix), 0)
        for text in texts:
            function(text)
        rounds = max(1, n // len(texts))
        start = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                function(text)
        return (time.perf_counter() - start) * n / (rounds * len(texts))

    return timed


def _empty_loop(mix: List[str]) -> Timed:
    def nothing(text: str) -> None:
        return None

    return _repeated(nothing, mix)


def _sqlite_select_1() -> Timed:
    cursor = sqlite3.connect(":memory:").cursor()

    def timed(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            cursor.execute("SELECT 1")
        return time.perf_counter() - start

    return timed


def run(quick: bool) -> Dict[str, Any]:
    """µs per call, medians over interleaved rounds: ``{mix: {variant: {"us": …, "min_us": …}}}``.

    ``call_overhead`` is an empty function called the same way: the loop's own cost, included in every figure.
    ``sqlite3_select_1`` (plain ``cursor.execute("SELECT 1")``, ~0.75 µs on SPEC §8's reference machine) scales the
    figures from a slower or busier machine.
    """
    n, rounds = (400, 3) if quick else (4000, 15)
    results: Dict[str, Any] = {}
    for name, mix in MIXES.items():
        variants = {
            "call_overhead": _empty_loop(mix),
            "query_type_uncached": _uncached(query_type, clear_classify_cache, mix),
            "query_type_repeated": _repeated(query_type, mix),
            "fingerprint_uncached": _uncached(fingerprint, clear_fingerprint_cache, mix),
            "fingerprint_repeated": _repeated(fingerprint, mix),
            "redact_literals": _repeated(redact_literals, mix),
            "sqlite3_select_1": _sqlite_select_1(),
        }
        results[name] = compare(variants, n, rounds)
    return results


def _table(results: Dict[str, Any]) -> str:
    variants = list(next(iter(results.values())))
    lines = ["%-22s" % "µs per call (median)" + "".join("%12s" % mix for mix in results)]
    for variant in variants:
        lines.append("%-22s" % variant + "".join("%12.3f" % results[mix][variant]["us"] for mix in results))
    return "\n".join(lines)


if __name__ == "__main__":
    figures = run("--quick" in sys.argv)
    print(_table(figures))
