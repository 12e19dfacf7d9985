"""Statement fingerprints for grouping repeats, and literal redaction (SPEC §5 ``RYFT_REDACT_LITERALS``).

``fingerprint``: string and number literals and placeholders become ``?``; lists of values in ``IN (…)`` (and
``ANY``/``ALL``/``ARRAY``) and repeated rows of a multi-row ``VALUES`` collapse to one, so ``IN (?, ?)`` and
``IN (?, ?, ?)`` fingerprint equal; comments go, whitespace is normalised and keywords are upper-cased (identifiers
keep their spelling). Cached by text.

``redact_literals``: the text exactly as written except that every string and number literal becomes ``?``;
identifiers, comments' text and placeholders (``?``, ``%s``, ``:name``, ``$1``) are untouched. Strings are read
with backslash escapes (MySQL's default) so that nothing past a ``\\'`` leaks; this over-masks only a PostgreSQL
string that ends in a backslash. Double-quoted text is an identifier (SQL standard), so MySQL's non-ANSI
``"string"`` literals are not masked.
"""

from __future__ import annotations

import re
from typing import Dict, List, Union

from ryft_instrument.sqllex import TOKEN_BACKSLASH, comment_end, tokens

_CACHE_MAX = 4096
_cache: Dict[object, str] = {}

# The tokenizer's alternatives behind one capturing group, so that ``findall`` returns token strings (whitespace
# left out) at C speed, with dotted names as one token to keep the count low. Dollar-quoted bodies and nested
# comments (which need a back-reference or counting) send the text to the token-by-token path instead.
_FAST = re.compile(
    r"""\s*([^\W\d][\w$]*(?:\.[^\W\d][\w$]*)*(?![\w$'&])|[(),]|--[^\n]*|/\*M?!\d*|\*/"""
    r"""|/\*[^*/]*(?:(?:\*(?!/)|/(?!\*))[^*/]*)*\*/|/\*"""
    r"""|[Ee]'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'?|(?:[XxBbNnRr]|[Uu]&)?'[^']*(?:''[^']*)*'?"""
    r"""|\$(?:[^\W\d]\w*)?\$|"[^"]*(?:""[^"]*)*"?|`[^`]*(?:``[^`]*)*`?|\[[^\W\d][\w $#@]*\]"""
    r"""|0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"""
    r"""|\?\d*|%s|%\(\w+\)s|:[^\W\d]\w*|\$\d+|@@?[\w$.]+|::|:=|=>|<=|>=|<>|!=|\|\||->>|->|\S)"""
)

KEYWORDS = frozenset(
    """ALL ALTER ANALYZE AND ANY ARRAY AS ASC BEGIN BETWEEN BY CALL CASE CAST COMMIT CONFLICT COPY CREATE CROSS
    CURRENT_DATE CURRENT_TIMESTAMP DATABASE DEFAULT DELETE DESC DESCRIBE DISTINCT DO DROP ELSE END ESCAPE EXCEPT
    EXECUTE EXISTS EXPLAIN FALSE FETCH FILTER FIRST FOR FROM FULL GRANT GROUP HAVING IF ILIKE IN INDEX INNER INSERT
    INTERSECT INTERVAL INTO IS JOIN KEY LATERAL LEFT LIKE LIMIT MATERIALIZED MERGE NATURAL NEXT NOT NOTHING NULL NULLS
    OF OFFSET ON ONLY OR ORDER OUTER OVER PARTITION PRAGMA PRIMARY RECURSIVE REFERENCES RELEASE REPLACE RETURNING
    REVOKE RIGHT ROLLBACK ROW ROWS SAVEPOINT SCHEMA SELECT SET SHOW SOME TABLE THEN TO TRANSACTION TRUE TRUNCATE UNION
    UNIQUE UPDATE USING VACUUM VALUES VIEW WHEN WHERE WINDOW WITH""".split()
)
# Tokens are joined with single spaces, then these spaces go (applied in order).
_TIGHTEN = ((" ,", ","), ("( ", "("), (" )", ")"), (" . ", "."), (" .", "."), (". ", "."), (" ::", "::"),
            (":: ", "::"), (" ;", ";"), (" [", "["), ("[ ", "["), (" ]", "]"))
_STRING_PREFIX = frozenset("EeXxBbNnRrUu")
# Post-passes on the rendered text (literals are ``?`` by then, keywords upper-case), each behind a cheap test.
_VALUE_LIST = re.compile(r"\b(IN|ANY|ALL|SOME) \(\?(?:, \?)+\)")
_TUPLE_LIST = re.compile(r"\bIN \((\([^()]*\))(?:, \1)+\)")
_ROWS = re.compile(r"\bVALUES (\([^()]*\))(?:, \1)+")


class _SlowPathError(Exception):
    """The fast path met a dollar-quoted body or a nested comment."""


def _render(parts: List[str], fast: bool) -> str:
    """Normalise raw tokens (no whitespace) into the fingerprint text."""
    out: List[str] = []
    append = out.append
    ident = False  # the previous token was a name: a "(" after it is a call
    keywords = KEYWORDS
    for tok in parts:
        c = tok[0]
        if c.isalpha() or c == "_":
            if c in _STRING_PREFIX and tok[-1] == "'" and len(tok) > 1 and tok[1] in "'&":
                append("?")
                ident = False
                continue
            upper = tok.upper()
            if upper in keywords:
                append(upper)
                ident = False
            else:
                append(tok)
                ident = True
            continue
        if c == "?" or c == "'":
            append("?")
        elif c.isdigit() or (c == "." and len(tok) > 1):
            if out and out[-1] in ("-", "+"):
                before = out[-2] if len(out) > 1 else ""
                if not before or before in keywords or not (before[0].isalnum() or before[0] in "_\"`)]?"):
                    out.pop()  # a sign, not a binary operator: ``x = -1`` is ``x = 1`` with another value
            append("?")
        elif c == "(":
            if ident:
                out[-1] += "("
            else:
                append("(")
        elif (c == "-" and tok[:2] == "--") or (c == "*" and tok == "*/"):
            continue
        elif c == "/" and tok[:2] == "/*":
            if fast and tok == "/*":
                raise _SlowPathError
            continue
        elif c == "$" and len(tok) > 1:
            if fast and tok[-1] == "$":
                raise _SlowPathError
            append("?")
        elif c in "%:" and len(tok) > 1 and tok[1] not in ":=":
            append("?")
        else:
            append(tok)
            ident = c in "\"`[" and len(tok) > 1
            continue
        ident = False
    while out and out[-1] == ";":
        out.pop()
    text = " ".join(out)
    for spaced, tight in _TIGHTEN:
        if spaced in text:
            text = text.replace(spaced, tight)
    if "?, ?" in text:
        text = _VALUE_LIST.sub(r"\1 (?)", text)
    if "), (" in text:
        text = _ROWS.sub(r"VALUES \1", _TUPLE_LIST.sub(r"IN (\1)", text))
    return text


def _fingerprint(sql: str) -> str:
    try:
        return _render(_FAST.findall(sql), True)
    except _SlowPathError:
        return _render(_slow_parts(sql), False)


def _slow_parts(sql: str) -> List[str]:
    """Raw tokens from the full tokenizer, dotted names joined into one as the fast pattern reads them."""
    parts: List[str] = []
    dotted = False  # parts[-1] is a name that the next adjacent "." and name continue
    last_end = -1
    for kind, start, end in tokens(sql):
        text = sql[start:end]
        if dotted and start == last_end and (
            (kind == "w" and parts[-1][-1] == ".")
            or (text == "." and end < len(sql) and (sql[end].isalpha() or sql[end] == "_"))
        ):
            parts[-1] += text
        else:
            parts.append(text)
            dotted = kind == "w"
        last_end = end
    return parts


def fingerprint(sql: Union[str, bytes]) -> str:
    """A grouping key for ``sql``: equal for statements that differ only in values, spacing, comments or keyword case.

    Never raises (an unusable argument gives ``""``).
    """
    found = _cache.get(sql) if isinstance(sql, (str, bytes)) else None
    if found is not None:
        return found
    try:
        text = sql.decode("utf-8", "replace") if isinstance(sql, bytes) else sql
        found = _fingerprint(text) if isinstance(text, str) else ""
    except Exception:
        found = ""
    if isinstance(sql, (str, bytes)):
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[sql] = found
    return found


def clear_cache() -> None:
    """Forget every cached fingerprint (benchmarks measure the uncached path with it)."""
    _cache.clear()


def redact_literals(sql: str) -> str:
    """``sql`` with every string and number literal replaced by ``?``; everything else exactly as written."""
    try:
        pieces: List[str] = []
        pos = 0
        last = 0
        match = TOKEN_BACKSLASH.match
        end = len(sql)
        while pos < end:
            m = match(sql, pos)
            if m is None:
                break
            group = m.lastgroup
            if group == "cn":
                pos = comment_end(sql, pos)
                continue
            if group in ("s", "e", "d", "n"):
                pieces.append(sql[last:m.start()])
                pieces.append("?")
                last = m.end()
            pos = m.end()
        pieces.append(sql[last:])
        return "".join(pieces)
    except Exception:
        return "?"
