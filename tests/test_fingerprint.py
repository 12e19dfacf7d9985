"""fingerprint() groups statements that differ only in values; redact_literals() masks literals and nothing else."""

from __future__ import annotations

import random
import re
import sys
from typing import List

import pytest

from ryft_instrument.fingerprinting import clear_cache, fingerprint, redact_literals, redact_message
from tests.test_classify import CORPUS_ENTRIES

fingerprint_module = sys.modules["ryft_instrument.fingerprinting"]


@pytest.mark.parametrize("a,b", [
    ("SELECT * FROM t WHERE id IN (?, ?)", "SELECT * FROM t WHERE id IN (?, ?, ?)"),
    ("SELECT * FROM t WHERE id IN (1, 2)", "select * from t where id in (3)"),
    ("SELECT * FROM t WHERE id IN (%s, %s)", "SELECT * FROM t WHERE id IN (%(a)s, %(b)s, %(c)s)"),
    ("SELECT * FROM t WHERE id = $1", "SELECT * FROM t WHERE id = :id"),
    ("SELECT * FROM t WHERE name = 'bob'", "SELECT  *  FROM t\n\tWHERE name = 'alice' -- tail"),
    ("SELECT * FROM t WHERE x = 1.5e3", "SELECT * FROM t WHERE x = -2"),
    ("SELECT * FROM t WHERE a = E'it\\'s'", "SELECT * FROM t WHERE a = $$x$$"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "INSERT INTO t (a, b) VALUES (4, 'w')"),
    ("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", "INSERT INTO t (a, b) VALUES (?, ?)"),
    ("SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))", "SELECT * FROM t WHERE (a, b) IN ((5, 6))"),
    ("SELECT * FROM t /* app=x */ WHERE a = 1;", "/* other */ SELECT * FROM t WHERE a = 2"),
    ("SELECT * FROM t WHERE a = ANY(ARRAY[1, 2])", "SELECT * FROM t WHERE a = ANY(ARRAY[3, 4])"),
    ("SELECT * FROM t LIMIT 10 OFFSET 20", "SELECT * FROM t LIMIT 5 OFFSET 0"),
    ("SELECT x'ff', N'abc', B'101'", "SELECT X'00', n'zz', b'1'"),
])
def test_equal_when_only_values_differ(a: str, b: str) -> None:
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize("a,b", [
    ("SELECT * FROM t WHERE a = ?", "SELECT * FROM u WHERE a = ?"),
    ("SELECT a FROM t", "SELECT b FROM t"),
    ('SELECT * FROM "T"', 'SELECT * FROM "t"'),
    ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = ? OR b = ?"),
    ("SELECT * FROM t WHERE a IN (?)", "SELECT * FROM t WHERE a NOT IN (?)"),
    ("INSERT INTO t (a) VALUES (?)", "INSERT INTO t (a, b) VALUES (?, ?)"),
    ("SELECT a - 1 FROM t", "SELECT a FROM t"),
])
def test_different_when_structure_differs(a: str, b: str) -> None:
    assert fingerprint(a) != fingerprint(b)


def test_shape_of_the_result() -> None:
    assert fingerprint("select id from users where id in (1, 2, 3) and name = 'bob' -- c") == \
        "SELECT id FROM users WHERE id IN (?) AND name = ?"
    assert fingerprint("insert into t values (1, 'a'), (2, 'b');") == "INSERT INTO t VALUES (?, ?)"
    assert fingerprint("SELECT count(*) FROM t") == "SELECT count(*) FROM t"
    assert fingerprint("/*!40101 SET NAMES utf8mb4 */") == "SET NAMES utf8mb4"
    assert fingerprint("SELECT x::int FROM \"Users\" WHERE a.b = @v") == 'SELECT x::int FROM "Users" WHERE a.b = @v'


def test_comments_and_dollar_bodies_never_leak_into_the_fingerprint() -> None:
    assert fingerprint("SELECT /* a /* nested */ secret */ 1") == "SELECT ?"
    assert fingerprint("SELECT $tag$ secret $tag$, $$ other $$") == "SELECT ?, ?"
    assert fingerprint("SELECT 'unterminated secret") == "SELECT ?"


@pytest.mark.parametrize("value", [b"SELECT 1", b"\xff\xfe SELECT 'x'", "", "   ", "-- c", ";", "(((", ")))", "'",
                                   "/*", "$$", "\ud800", None, 42])
def test_never_raises(value: object) -> None:
    assert isinstance(fingerprint(value), str)  # type: ignore[arg-type]


def test_every_corpus_statement_fingerprints_and_is_stable() -> None:
    clear_cache()
    for sql, _, source in CORPUS_ENTRIES:
        once = fingerprint(sql)
        assert isinstance(once, str), source
        clear_cache()
        assert fingerprint(sql) == once, source
        assert fingerprint(once) == once, source  # a fingerprint is its own fingerprint


def test_literal_values_never_reach_the_fingerprint() -> None:
    rng = random.Random(7)
    for _ in range(200):
        secret = "s%08d" % rng.randrange(10**8)
        number = rng.randrange(10**9)
        sql = "SELECT * FROM t WHERE a = '%s' AND b = %d AND c IN (%d, %d)" % (secret, number, number + 1, number + 2)
        text = fingerprint(sql)
        assert secret not in text and str(number) not in text
        assert text == "SELECT * FROM t WHERE a = ? AND b = ? AND c IN (?)"


# Pieces for generated texts: every lexical shape the paths treat differently, and their neighbours.
_PIECES = [
    "SELECT", "select", "Select", "sElEcT", "from", "in", "IN", "values", "VALUES", "any", "ALL", "some", "t", "users",
    "users.id", "a.b.c", "t.*", "a.", ".b", "a..b", "a.1", "x1", "_x", "Users", "\u017felect", "\u0131n", "\ufb01rst",
    "\u00e9", "1", "42", "1.5", ".5", "1e5", "1.e5", "0x1F", "0xZ", "1abc", "12_", "-", "+", "-1", "+2", "=", "==",
    "<=", ">=", "<>", "!=", "=>", "||", "->", "->>", "::", ":=", ":", "::int", "?", "?1", "?a", "??", "%s",
    "%(name)s", "%", "%%s", "%(%s)s", ":name", "@v", "@@x.y", "@a.", "$1", "$$", "$$ body $$", "$t$ x $t$", "'str'",
    "'it''s'", "'unterminated", "E'x\\'y'", "e'z'", "X'ff'", "N'n'", "U&'u'", "b'1'", "a'x'", "1'x'", '"Q"',
    '"a ( b , c"', '"a . b"', '"open', "`bt`", "`b t`", "[col 1]", "[c ]", "[", "]", "[1]", "(", ")", "(", ")", ",",
    ",", ";", ";", "*", "/", "/*", "*/", "/* c */", "/* a /* b */ c */", "/*/*/", "/*! x */", "/*!50001", "/*M!",
    "-- c\n", "--", "---", "\n", "\t", "  ", "\x0b", "\x1c", "&", "flags&4", "^", "~", "#", "\\", "{", "}", "!", "|",
    "<", ">", ".", "..", "\u2026", "\u0663", "\u00b2", "(?, ?)", "IN (?, ?, ?)", "IN ((1, 2), (1, 2))",
    "VALUES (1, 'a'), (2, 'b')", "ANY (?, ?)", "count(*)", "f(-1)", "x = -1", "a - 1", "x'", "E", "N", "U&", "U",
    "CURRENT_TIMESTAMP", "current_date",
]


def _generated(count: int, seed: int) -> List[str]:
    """Random texts from _PIECES, alone or spliced into corpus statements."""
    rng = random.Random(seed)
    base = [entry[0] for entry in CORPUS_ENTRIES]
    texts = []
    separators = [" ", " ", "", "\n", "  "]
    for _ in range(count):
        text = "".join(rng.choice(_PIECES) + rng.choice(separators) for _ in range(rng.randrange(1, 14)))
        host = rng.choice(base) if rng.random() < 0.3 else ""
        cut = rng.randrange(len(host) + 1)
        texts.append(host[:cut] + text + host[cut:])
    return texts


_TEXTS = [entry[0] for entry in CORPUS_ENTRIES] + _generated(6000, 3)


def test_every_path_agrees_with_the_token_path() -> None:
    """The plain, split and findall paths give what the full tokenizer (sqllex.tokens) and _render give."""
    fp = fingerprint_module
    paths = {"split": 0, "plain": 0, "fast": 0, "token": 0}
    for sql in _TEXTS:
        slow_parts = fp._slow_parts(sql)
        expected = fp._render(slow_parts, False)
        assert fp._fingerprint(sql) == expected, repr(sql)
        plain = fp._plain_text(sql)
        if plain is not None:
            text, rest = plain
            # Strings are " ? " and %s is "?" in a plain text; every other token is the tokenizer's own.
            assert fp._PLAIN_TOKEN.findall(text) == ["?" if part[0] == "'" or part == "%s" else part
                                                     for part in slow_parts], repr(sql)
            assert fp._render(fp._PLAIN_TOKEN.findall(text), False) == expected, repr(sql)
            parts = fp._split(text, rest)
            paths["plain"] += 1
            if parts is not None:
                try:
                    assert fp._render_split(parts) == expected, repr(sql)
                except fp._SplitError:
                    continue
                assert parts == fp._PLAIN_TOKEN.findall(text), repr(sql)
                paths["split"] += 1
        elif sql.isascii():
            try:
                assert fp._render(fp._FAST.findall(sql), True) == expected, repr(sql)
                paths["fast"] += 1
            except fp._SlowPathError:  # dollar bodies and nested comments take the token path only
                paths["token"] += 1
    assert min(paths.values()) > 100, paths  # every path was exercised


def test_redaction_agrees_with_the_token_path() -> None:
    """What the full tokenizer calls a literal is masked, and nothing else; with a backslash in the text, what
    either reading of strings (backslash escapes or not) calls one."""
    from ryft_instrument.sqllex import tokens

    for sql in _TEXTS:
        readings = (True, False) if "\\" in sql or re.search(r"--(?!\s|\Z)", sql) else (True,)
        spans = sorted((start, end) for backslash in readings for kind, start, end in tokens(sql, backslash=backslash)
                       if kind in ("s", "n"))
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        pieces = []
        last = 0
        for start, end in merged:
            pieces += [sql[last:start], "?"]
            last = end
        assert redact_literals(sql) == "".join(pieces) + sql[last:], repr(sql)


def test_literals_never_leak_from_prefixed_or_unterminated_strings() -> None:
    assert fingerprint("SELECT N'unterminated secret") == "SELECT ?"
    assert fingerprint("SELECT E'it\\'s secret") == "SELECT ?"
    assert fingerprint("SELECT a FROM t WHERE b = x'00ff' AND flags&4 = 4") == \
        "SELECT a FROM t WHERE b = ? AND flags & ? = ?"


def test_cache_is_bounded() -> None:
    clear_cache()
    for i in range(fingerprint_module._CACHE_MAX * 2 + 5):
        fingerprint("SELECT c%d FROM t" % i)
    assert len(fingerprint_module._cache) <= fingerprint_module._CACHE_MAX


@pytest.mark.parametrize("sql,expected", [
    ("SELECT * FROM t WHERE a = 'secret' AND b = 42", "SELECT * FROM t WHERE a = ? AND b = ?"),
    ("SELECT * FROM t WHERE a = 'it''s' AND b = 1.5e3", "SELECT * FROM t WHERE a = ? AND b = ?"),
    ("SELECT * FROM t WHERE a = 'it\\'s secret'", "SELECT * FROM t WHERE a = ?"),
    ("SELECT E'x\\'y', $$body$$, $q$ body $q$, X'ff', N'n'", "SELECT ?, ?, ?, ?, ?"),
    ("SELECT t1.c2 FROM t1 WHERE id = ? AND x = %s AND y = %(name)s AND z = :name AND w = $1 AND v = @var",
     "SELECT t1.c2 FROM t1 WHERE id = ? AND x = %s AND y = %(name)s AND z = :name AND w = $1 AND v = @var"),
    ('SELECT "col 1", `col2`, [col 3] FROM "T"', 'SELECT "col 1", `col2`, [col 3] FROM "T"'),
    ("  select\n\t1 -- keep this comment\n", "  select\n\t? -- keep this comment\n"),
    ("SELECT x::int, a[1] FROM t", "SELECT x::int, a[?] FROM t"),
    ("SELECT 'unterminated secret", "SELECT ?"),
    ("/* a /* b */ c */ SELECT 1", "/* a /* b */ c */ SELECT ?"),
    # a backslash before a quote: PostgreSQL, SQLite, DuckDB end the string there, MySQL escapes the quote
    ("VALUES ('C:\\Users\\', 'alice@example.com')", "VALUES (?"),
    ("SELECT 'a\\' AS x, 'SECRET' AS y, 1234", "SELECT ?"),
    ("SELECT 'O\\'Brien', 'SECRET'", "SELECT ?"),
    ("a = '\\''(\";' AND b = 'SECRET12' AND c = 9876512", "a = ? AND b = ? AND c = ?"),
    # ``--`` before anything but a space: a comment in PostgreSQL, minus minus in MySQL
    ("UPDATE t SET bal=bal--100 WHERE ssn='123-45-6789'", "UPDATE t SET bal=bal--? WHERE ssn=?"),
    ("SELECT 1 -- a comment 'kept' 42", "SELECT ? -- a comment 'kept' 42"),
])
def test_redact_literals(sql: str, expected: str) -> None:
    assert redact_literals(sql) == expected


@pytest.mark.parametrize("message,expected", [
    # What the drivers said here, word for word (PostgreSQL 15, MariaDB 10.11, DuckDB, SQLite, Trino).
    ('duplicate key value violates unique constraint "rx_email_key"\nDETAIL:  Key (email)=(bob@x.com) already '
     'exists.', 'duplicate key value violates unique constraint ?\nDETAIL:  Key (email)=(?) already exists.'),
    ('new row for relation "rx" violates check constraint "rx_n_check"\nDETAIL:  Failing row contains (3, c@x.com, '
     '-5).', 'new row for relation ? violates check constraint ?\nDETAIL:  Failing row contains (?).'),
    ("invalid input syntax for type integer: \"abc\"\nLINE 1: SELECT 'abc'::int\n               ^",
     "invalid input syntax for type integer: ?\nLINE 1: SELECT ?::int\n               ^"),
    ('(1062, "Duplicate entry \'bob@x.com\' for key \'email\'")', '(1062, "Duplicate entry ? for key ?")'),
    ('(1366, "Incorrect integer value: \'abc\' for column `test`.`rx`.`n` at row 1")',
     '(1366, "Incorrect integer value: ? for column `test`.`rx`.`n` at row 1")'),
    ('Constraint Error: Duplicate key "email: bob@x.com" violates unique constraint.',
     "Constraint Error: Duplicate key ? violates unique constraint."),
    ("UNIQUE constraint failed: rx.email", "UNIQUE constraint failed: rx.email"),
    ("line 1:8: Column 'nope' cannot be resolved", "line 1:8: Column ? cannot be resolved"),
    ("value 300 out of range for INT16, 1.5e3 too, not x1 or v2.0.1", "value ? out of range for INT16, ? too, not x1 "
     "or v2.0.1"),
    ("cut short: 'bob@x.c", "cut short: ?"),
    ("'it\\'s' and 'it''s'", "? and ?"),
])
def test_redact_message(message: str, expected: str) -> None:
    assert redact_message(message) == expected


def test_redaction_keeps_everything_but_literals() -> None:
    for sql, _, source in CORPUS_ENTRIES:
        redacted = redact_literals(sql)
        assert isinstance(redacted, str), source
        assert redact_literals(redacted) == redacted, source  # idempotent
        if "'" not in sql and "$" not in sql and not any(ch.isdigit() for ch in sql):
            assert redacted == sql, source
