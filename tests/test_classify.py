"""queryType (SPEC §2): every numbered rule, the labelled corpus in full, prepared statements per session."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

import ryft_instrument
from ryft_instrument.classify import classify_statement, clear_cache, query_type
from ryft_instrument.fingerprinting import fingerprint, redact_literals
from ryft_instrument.schema import QUERY_TYPES

CORPUS = Path(__file__).parent / "corpus"


def load_corpus() -> List[Tuple[str, Optional[str], str]]:
    """(sql, expected type or None, "file:line") for every entry of tests/corpus/*.sql.

    A line ``-- @ TYPE`` (or ``-- @ NONE``) starts an entry; its SQL is every line up to the next such line.
    """
    entries: List[Tuple[str, Optional[str], str]] = []
    for path in sorted(CORPUS.glob("*.sql")):
        current: Optional[Tuple[Optional[str], str]] = None
        lines: List[str] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("-- @ "):
                if current is not None:
                    entries.append(("\n".join(lines), current[0], current[1]))
                label = line[5:].strip()
                current = (None if label == "NONE" else label, "%s:%d" % (path.name, number))
                lines = []
            elif current is not None:
                lines.append(line)
        if current is not None:
            entries.append(("\n".join(lines), current[0], current[1]))
    return entries


CORPUS_ENTRIES = load_corpus()


def test_corpus_is_large_and_labelled_with_the_vocabulary() -> None:
    assert len(CORPUS_ENTRIES) >= 300
    assert {expected for _, expected, _ in CORPUS_ENTRIES} - {None} <= QUERY_TYPES
    assert {expected for _, expected, _ in CORPUS_ENTRIES} >= QUERY_TYPES | {None}
    sources = {source.split(":")[0] for _, _, source in CORPUS_ENTRIES}
    assert {"trino.sql", "postgresql.sql", "mysql.sql", "sqlite.sql", "duckdb.sql", "tpch.sql", "sqlalchemy.sql",
            "adversarial.sql"} <= sources


@pytest.mark.parametrize("sql,expected,source", CORPUS_ENTRIES, ids=[e[2] for e in CORPUS_ENTRIES])
def test_corpus(sql: str, expected: Optional[str], source: str) -> None:
    clear_cache()
    assert query_type(sql) == expected, source
    assert query_type(sql) == expected, "cached answer differs: " + source
    assert query_type(sql.encode("utf-8")) == expected, "bytes: " + source


RULES = [
    # 1. queries
    ("SELECT 1", "SELECT"), ("WITH a AS (SELECT 1) SELECT * FROM a", "SELECT"), ("VALUES (1)", "SELECT"),
    ("TABLE t", "SELECT"), ("(SELECT 1) UNION (SELECT 2)", "SELECT"), ("FROM t", "SELECT"),
    ("PIVOT t ON a USING sum(b)", "SELECT"), ("SUMMARIZE t", "SELECT"), ("SELECT * FROM t FOR UPDATE", "SELECT"),
    ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "SELECT"), ("DECLARE c CURSOR FOR SELECT 1", "SELECT"),
    ("FETCH NEXT FROM c", "SELECT"), ("MOVE LAST IN c", "SELECT"), ("SELECT nextval('s')", "SELECT"),
    # 2. WITH: the outermost statement
    ("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", "INSERT"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "SELECT"),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) UPDATE t SET a = 1", "UPDATE"),
    ("WITH a AS (SELECT 1), b(x) AS MATERIALIZED (SELECT 2) DELETE FROM t", "DELETE"),
    ("WITH a AS (SELECT 1) MERGE INTO t USING a ON true WHEN MATCHED THEN DELETE", "MERGE"),
    ("WITH SESSION a = 1 INSERT INTO t VALUES (1)", "INSERT"),
    # a CTE may be named like a statement (PostgreSQL's upsert idiom)
    ("WITH upsert AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM upsert", "SELECT"),
    ("WITH a AS (SELECT 1), upsert AS (UPDATE t SET a = 1 RETURNING *) INSERT INTO t SELECT * FROM upsert",
     "INSERT"),
    ("WITH replace AS (SELECT 1) SELECT * FROM replace", "SELECT"),
    ("WITH RECURSIVE merge(n) AS (SELECT 1) SELECT * FROM merge", "SELECT"),
    ("WITH unpivot AS (SELECT 1) DELETE FROM t", "DELETE"),
    # a column named like a query word is a column list, not CREATE TABLE (query)
    ("CREATE TABLE t (pivot INT, b INT)", "DATA_DEFINITION"), ("CREATE TABLE t (execute TEXT)", "DATA_DEFINITION"),
    ("CREATE TABLE t (SELECT * FROM s)", "INSERT"),
    ("EXPLAIN (ANALYZE 'off') DELETE FROM t", "EXPLAIN"), ("EXPLAIN (ANALYZE 'true') DELETE FROM t", "DELETE"),
    ("WITH FUNCTION f() RETURNS TABLE(a int) RETURN 1 SELECT f()", "SELECT"),
    # 3. row writes
    ("INSERT INTO t VALUES (1) RETURNING id", "INSERT"), ("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "INSERT"),
    ("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1", "INSERT"),
    ("INSERT OR REPLACE INTO t VALUES (1)", "INSERT"),
    ("REPLACE INTO t VALUES (1)", "INSERT"), ("COPY t FROM STDIN", "INSERT"), ("COPY FROM DATABASE a TO b", "INSERT"),
    ("LOAD DATA INFILE 'x' INTO TABLE t", "INSERT"), ("CREATE TABLE t AS SELECT 1", "INSERT"),
    ("CREATE TABLE t (a, b) AS VALUES (1, 2)", "INSERT"), ("SELECT * INTO new_t FROM t", "INSERT"),
    ("REFRESH MATERIALIZED VIEW mv", "INSERT"), ("COPY t TO STDOUT", "SELECT"), ("COPY (SELECT 1) TO 'f'", "SELECT"),
    ("CREATE TABLE t (a int)", "DATA_DEFINITION"),
    # 4. UPDATE, DELETE, MERGE whatever their clauses
    ("UPDATE t SET a = 1 FROM u WHERE t.id = u.id RETURNING *", "UPDATE"),
    ("DELETE FROM t USING u WHERE t.id = u.id RETURNING *", "DELETE"),
    ("MERGE INTO t USING u ON t.id = u.id WHEN NOT MATCHED THEN INSERT VALUES (1)", "MERGE"),
    # 5. ALTER
    ("ALTER TABLE t EXECUTE optimize", "ALTER_TABLE_EXECUTE"),
    ("ALTER TABLE c.s.t EXECUTE expire_snapshots(retention_threshold => '7d')", "ALTER_TABLE_EXECUTE"),
    ("ALTER TABLE t ADD COLUMN c int", "DATA_DEFINITION"), ("ALTER VIEW v RENAME TO w", "DATA_DEFINITION"),
    # 6. everything else that is not a query, a write or introspection
    ("TRUNCATE t", "DATA_DEFINITION"), ("BEGIN", "DATA_DEFINITION"), ("START TRANSACTION", "DATA_DEFINITION"),
    ("COMMIT", "DATA_DEFINITION"), ("END", "DATA_DEFINITION"), ("ROLLBACK", "DATA_DEFINITION"),
    ("SAVEPOINT s", "DATA_DEFINITION"), ("RELEASE SAVEPOINT s", "DATA_DEFINITION"), ("SET a = 1", "DATA_DEFINITION"),
    ("RESET a", "DATA_DEFINITION"), ("USE db", "DATA_DEFINITION"), ("SET SESSION a = 1", "DATA_DEFINITION"),
    ("PRAGMA journal_mode = WAL", "DATA_DEFINITION"), ("INSTALL httpfs", "DATA_DEFINITION"),
    ("LOAD httpfs", "DATA_DEFINITION"), ("CREATE MATERIALIZED VIEW mv AS SELECT 1", "DATA_DEFINITION"),
    ("DROP TABLE t", "DATA_DEFINITION"), ("COMMENT ON TABLE t IS 'x'", "DATA_DEFINITION"),
    ("GRANT SELECT ON t TO u", "DATA_DEFINITION"), ("REVOKE SELECT ON t FROM u", "DATA_DEFINITION"),
    ("ATTACH 'f.db' AS f", "DATA_DEFINITION"), ("DETACH f", "DATA_DEFINITION"), ("LOCK TABLE t", "DATA_DEFINITION"),
    ("CALL p()", "DATA_DEFINITION"), ("DO $$ BEGIN END $$", "DATA_DEFINITION"),
    ("PREPARE p AS SELECT 1", "DATA_DEFINITION"), ("DEALLOCATE p", "DATA_DEFINITION"), ("CLOSE c", "DATA_DEFINITION"),
    ("VACUUM", "DATA_DEFINITION"), ("CHECKPOINT", "DATA_DEFINITION"), ("REINDEX TABLE t", "DATA_DEFINITION"),
    ("CLUSTER t", "DATA_DEFINITION"), ("OPTIMIZE TABLE t", "DATA_DEFINITION"), ("LISTEN c", "DATA_DEFINITION"),
    ("NOTIFY c", "DATA_DEFINITION"), ("KILL 42", "DATA_DEFINITION"),
    # 7. introspection
    ("SHOW TABLES", "DESCRIBE"), ("DESCRIBE t", "DESCRIBE"), ("DESC t", "DESCRIBE"), ("EXPLAIN t", "DESCRIBE"),
    ("PRAGMA table_info(t)", "DESCRIBE"), ("PRAGMA journal_mode", "DESCRIBE"), ("PRAGMA optimize", "ANALYZE"),
    # 8. EXPLAIN
    ("EXPLAIN SELECT 1", "EXPLAIN"), ("EXPLAIN QUERY PLAN SELECT 1", "EXPLAIN"),
    ("EXPLAIN (TYPE DISTRIBUTED) INSERT INTO t VALUES (1)", "EXPLAIN"),
    ("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "INSERT"), ("EXPLAIN ANALYZE SELECT 1", "SELECT"),
    ("EXPLAIN (ANALYZE) DELETE FROM t", "DELETE"), ("EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", "UPDATE"),
    ("EXPLAIN (ANALYZE true) DELETE FROM t", "DELETE"), ("EXPLAIN (ANALYZE on) DELETE FROM t", "DELETE"),
    ("EXPLAIN (ANALYZE false) DELETE FROM t", "EXPLAIN"), ("EXPLAIN (ANALYZE off) DELETE FROM t", "EXPLAIN"),
    ("EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", "INSERT"),
    # 9. ANALYZE
    ("ANALYZE t", "ANALYZE"), ("ANALYZE TABLE t", "ANALYZE"), ("ANALYZE", "ANALYZE"),
    # 10. EXECUTE
    ("EXECUTE IMMEDIATE 'DELETE FROM t'", "DELETE"), ("EXECUTE IMMEDIATE 'SELECT ''x'''", "SELECT"),
    ("EXECUTE p", "DATA_DEFINITION"),
    # 11. lexical rules
    ("  -- c\n/* d */ select 1 ;", "SELECT"), ("/*!40101 SET NAMES utf8mb4 */", "DATA_DEFINITION"),
    ("/*!50001 CREATE VIEW v AS SELECT 1 */", "DATA_DEFINITION"), ("SELECT 'DELETE'", "SELECT"),
    ("SELECT $$ INTO t $$", "SELECT"), ('SELECT "into" FROM t', "SELECT"), ("SELECT 1; DELETE FROM t", "SELECT"),
    ("", None), ("   ", None), ("-- x", None), ("/* x */", None), (";", None),
]


@pytest.mark.parametrize("sql,expected", RULES)
def test_spec_rules(sql: str, expected: Optional[str]) -> None:
    clear_cache()
    assert query_type(sql) == expected


def test_public_function_is_the_classifier() -> None:
    assert ryft_instrument.query_type("EXPLAIN ANALYZE DELETE FROM t") == "DELETE"


@pytest.mark.parametrize("value", [None, 42, 3.5, object(), ["SELECT 1"], b"\xff\xfe\x00", bytearray(b"SELECT 1"),
                                   memoryview(b"DELETE FROM t"), "\ud800 SELECT", "SELECT \x00 1"])
def test_never_raises(value: object) -> None:
    result = query_type(value)  # type: ignore[arg-type]
    assert result is None or result in QUERY_TYPES


def test_bytes_and_invalid_utf8() -> None:
    assert query_type(b"INSERT INTO t VALUES ('\xff')") == "INSERT"
    assert query_type(bytearray(b"UPDATE t SET a = 1")) == "UPDATE"
    assert query_type(memoryview(b"DELETE FROM t")) == "DELETE"


def test_unterminated_constructs_do_not_confuse() -> None:
    for sql in ("SELECT 'never closed", 'SELECT "never closed', "SELECT $$ never", "WITH a AS (SELECT 1",
                "WITH a AS (SELECT ')", "CREATE TABLE t (a int", "EXPLAIN (ANALYZE", "COPY (SELECT 1", "/*"):
        result = query_type(sql)
        assert result is None or result in QUERY_TYPES


def test_huge_statements_are_classified_from_their_head() -> None:
    values = ", ".join("(%d, 'x')" % i for i in range(200_000))
    assert query_type("INSERT INTO t VALUES " + values) == "INSERT"
    assert query_type("SELECT " + ", ".join("c%d" % i for i in range(100_000)) + " FROM t") == "SELECT"
    assert query_type("WITH a AS (SELECT * FROM (VALUES %s) v) DELETE FROM t" % values) == "DELETE"


def test_comments_that_do_not_nest_as_postgresql_would() -> None:
    """MySQL and SQLite do not nest comments: ``/* reads /data/*.csv */`` holds a ``/*`` its ``*/`` does not
    balance. Many of them in one text are each closed by their first ``*/`` (they were once scanned to the text's
    end each, quadratic: 4 s for 96 KB), and a comment PostgreSQL nests still ends where PostgreSQL says."""
    unbalanced = "/* reads /data/*.csv */ " * 4000
    assert query_type(unbalanced + "DELETE FROM t") == "DELETE"
    assert fingerprint(unbalanced + "SELECT 'a', 1").endswith("SELECT ?, ?")
    assert redact_literals(unbalanced + "SELECT 'secret'").endswith("*/ SELECT ?")
    assert query_type("/* a /* b */ SELECT 1 */ DELETE FROM t") == "DELETE"
    assert query_type("/* a /* b */ c */ /* d */ INSERT INTO t VALUES (1)") == "INSERT"


def test_cache_is_bounded() -> None:
    from ryft_instrument import classify

    clear_cache()
    for i in range(classify._CACHE_MAX * 2 + 10):
        query_type("SELECT %d" % i)
    assert len(classify._cache) <= classify._CACHE_MAX


class TestPreparedStatements:
    def test_execute_takes_the_prepared_type_per_session(self) -> None:
        assert classify_statement("PREPARE del AS DELETE FROM t WHERE id = $1", "c1") == "DATA_DEFINITION"
        assert classify_statement("EXECUTE del(1)", "c1") == "DELETE"
        assert classify_statement("EXECUTE del(1)", "c2") == "DATA_DEFINITION"
        assert classify_statement("execute DEL (2)", "c1") == "DELETE"  # unquoted names fold case
        assert classify_statement("DEALLOCATE del", "c1") == "DATA_DEFINITION"
        assert classify_statement("EXECUTE del(1)", "c1") == "DATA_DEFINITION"

    def test_mysql_and_trino_forms(self) -> None:
        classify_statement("PREPARE s1 FROM 'UPDATE t SET a = ?'", "m")
        assert classify_statement("EXECUTE s1 USING @a", "m") == "UPDATE"
        classify_statement("DROP PREPARE s1", "m")
        assert classify_statement("EXECUTE s1 USING @a", "m") == "DATA_DEFINITION"
        classify_statement("PREPARE q FROM INSERT INTO t VALUES (1)", "trino")
        assert classify_statement("EXECUTE q", "trino") == "INSERT"
        classify_statement("DEALLOCATE PREPARE q", "trino")
        assert classify_statement("EXECUTE q", "trino") == "DATA_DEFINITION"

    def test_pg_typed_parameters_and_redefinition(self) -> None:
        classify_statement("PREPARE p (int, text) AS INSERT INTO t VALUES ($1, $2)", "pg")
        assert classify_statement("EXECUTE p(1, 'x')", "pg") == "INSERT"
        classify_statement("PREPARE p FROM @sql", "pg")  # unknown text replaces the known one
        assert classify_statement("EXECUTE p", "pg") == "DATA_DEFINITION"
        classify_statement('PREPARE "Q" AS SELECT 1', "pg")
        assert classify_statement('EXECUTE "Q"', "pg") == "SELECT"
        classify_statement("DISCARD ALL", "pg")
        assert classify_statement('EXECUTE "Q"', "pg") == "DATA_DEFINITION"

    def test_deallocate_all_and_no_session(self) -> None:
        classify_statement("PREPARE a AS SELECT 1", "s")
        classify_statement("PREPARE b AS DELETE FROM t", "s")
        classify_statement("DEALLOCATE ALL", "s")
        assert classify_statement("EXECUTE a", "s") == "DATA_DEFINITION"
        classify_statement("PREPARE a AS DELETE FROM t", None)
        assert classify_statement("EXECUTE a", None) == "DATA_DEFINITION"
        assert classify_statement("SELECT 1", "s") == "SELECT"
        assert classify_statement("PREPARE TRANSACTION 'x'", "s") == "DATA_DEFINITION"

    def test_maps_are_bounded(self) -> None:
        from ryft_instrument import classify

        for i in range(classify._MAX_SESSIONS + 50):
            classify_statement("PREPARE p AS SELECT 1", ("session", i))
        assert len(classify._sessions) <= classify._MAX_SESSIONS
        for i in range(classify._MAX_NAMES + 50):
            classify_statement("PREPARE p%d AS DELETE FROM t" % i, "many")
        assert len(classify._sessions["many"]) <= classify._MAX_NAMES
        assert classify_statement("EXECUTE p%d" % (classify._MAX_NAMES + 49), "many") == "DELETE"


# --- the one-match fast paths give exactly what the token-by-token path gives ----------------------------------------

_PIECES = [
    "SELECT", "select", "WITH", "x", "AS", "as", "(", ")", ";", ",", ".", "=", "*", "*/", "/*", "--", "\n", "'a'",
    "'", "''", "'''", '"q"', "`b`", "[c]", "$$", "$t$", "E'x\\'y'", "N'n'", "U&'u'", "1", ".5", "-", "-2", "INTO",
    "FROM", "TO", "EXPLAIN", "ANALYZE", "analyse", "ANALYZE false", "CREATE", "TABLE", "TEMP", "IF NOT EXISTS",
    "INSERT", "DELETE", "RETURNING", "COPY", "PRAGMA", "EXECUTE", "IMMEDIATE", "ALTER", "VALUES", "IN", "?", "%s",
    ":n", "$1", "@v", "::", "=>", "/*!40101", "/*M!", "/* c */", "-- c\n", "/* a /* b */ c */", "é", "Sélect",
    "a.b", "now()", "f((1))", "RECURSIVE", "FUNCTION", "RETURNS", "OUTFILE", "ONLY", "t$", "u_1", "\t", "",
    "MATERIALIZED", "CURSOR", "FOR", "FORMAT", "(ANALYZE", "QUERY PLAN", "UPDATE", "SET", "x'f'", "e'", "/",
]


# Statement words and what their rules read next, drawn often so that short random texts hit every rule's shapes.
_HEADS = ["WITH", "with", "CREATE", "EXPLAIN", "COPY", "SELECT", "ANALYZE", "ALTER", "PRAGMA", "EXECUTE", "(", ""]
_WORDS = ["SELECT", "INSERT", "DELETE", "AS", "AS", "(", ")", "x", "x", "TABLE", "IF", "RECURSIVE", "FUNCTION",
          "ANALYZE", "FROM", "TO", "INTO", "FORMAT", "VALUES", "TEMP", "OR REPLACE", "AS (SELECT 1)", ","]


def _generated(count: int, seed: int) -> List[str]:
    """Random texts from SQL pieces, alone or spliced into corpus statements."""
    import random

    rng = random.Random(seed)
    base = [entry[0] for entry in CORPUS_ENTRIES] + [rule[0] for rule in RULES]
    texts = []
    for _ in range(count):
        sep = rng.choice([" ", " ", "", "\n"])
        text = sep.join([rng.choice(_HEADS)] + [rng.choice(_WORDS if rng.random() < 0.7 else _PIECES)
                                                 for _ in range(rng.randrange(1, 10))])
        if rng.random() < 0.3:
            text = rng.choice(base)[:rng.randrange(200)] + sep + text
        if rng.random() < 0.2:
            host = rng.choice(base)
            cut = rng.randrange(len(host) + 1)
            text = host[:cut] + text + host[cut:]
        texts.append(text)
    return texts


def test_fast_paths_agree_with_the_token_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from ryft_instrument import classify, sqllex

    texts = [entry[0] for entry in CORPUS_ENTRIES] + [rule[0] for rule in RULES] + _generated(4000, 11)
    # Every head followed by every three of a small vocabulary, then one of a few tails.
    vocabulary = ["SELECT", "INSERT", "AS", "(", ")", "x", "IF", "ANALYZE", "FROM", "TO", "TABLE", "FUNCTION",
                  "RECURSIVE", "INTO", "1"]
    tails = [" (SELECT 1) DELETE FROM t", " t", "", "(1), b AS (2) UPDATE t"]
    texts += ["%s %s %s %s%s" % (head, a, b, c, tails[(i + len(a)) % len(tails)])
              for i, (head, a, b, c) in enumerate(itertools.product(_HEADS[:8], vocabulary, vocabulary, vocabulary))]
    fast = [classify._classify(text) for text in texts]
    never = re.compile(r"(?!)")
    for name in ("_QUICK_WORD", "_LEAD", "_CTE_HEAD", "_CTAS_HEAD", "_EXPLAIN_ANALYZE", "_COPY_HEAD"):
        monkeypatch.setattr(classify, name, never)
    monkeypatch.setattr(sqllex, "_GROUP_BODY", never)
    for text, expected in zip(texts, fast):
        assert classify._classify(text) == expected, repr(text)


def test_skip_group_one_match_agrees_with_its_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import random
    import re

    from ryft_instrument import sqllex

    rng = random.Random(5)
    chars = ["(", ")", "'", "''", '"', "`", "$", "$$", "-", "--", "/", "/*", "*/", "/*!", "\n", "E'", "xE'", "a", " "]
    texts = ["".join(rng.choice(chars) for _ in range(rng.randrange(1, 16))) for _ in range(20000)]
    fast = [[sqllex.skip_group(text, pos) for pos in range(min(len(text), 3))] for text in texts]
    monkeypatch.setattr(sqllex, "_GROUP_BODY", re.compile(r"(?!)"))
    for text, expected in zip(texts, fast):
        assert [sqllex.skip_group(text, pos) for pos in range(min(len(text), 3))] == expected, repr(text)


def test_quick_tokens_are_the_tokenizers() -> None:
    from ryft_instrument import classify, sqllex

    for text in ("a * b", "*/ x", "/*!1 SELECT */", "count(*)", "SELECT * INTO t", "**/"):
        for pos in range(len(text)):
            if text[pos:].lstrip().startswith("*"):
                assert classify._tok(text, pos) == sqllex.next_token(text, pos), (text, pos)
