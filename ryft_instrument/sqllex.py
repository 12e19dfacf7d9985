"""A small SQL tokenizer shared by classification, fingerprints and literal redaction.

It knows just enough lexical structure for keywords never to be read out of strings, comments or quoted names:
``--`` and ``/* */`` comments (nested, as in PostgreSQL; an unterminated nest falls back to the first ``*/``),
MySQL/MariaDB executable comments ``/*! … */``, ``/*!50001 … */`` and ``/*M! … */`` whose content is lexed as SQL
(their markers are skipped like whitespace), single-quoted strings with ``''`` escapes and the ``E``/``X``/``B``/``N``/
``U&`` prefixes (``E'…'`` takes backslash escapes), dollar-quoted bodies (``$$…$$``, ``$tag$…$tag$``), double-quoted,
backtick and ``[bracket]`` identifiers, numbers, placeholders (``?``, ``%s``, ``%(name)s``, ``:name``, ``$1``, ``@var``)
and operators. Unterminated strings, quoted names and comments run to the end of the text; nothing here raises.

Token kinds (``Token[0]``): ``w`` word, ``q`` quoted identifier, ``s`` string literal, ``n`` number, ``p`` placeholder
or variable, ``o`` operator/punctuation. Whitespace and comments are never returned.
"""

from __future__ import annotations

import re
from typing import Dict, Iterator, Optional, Tuple

#: ``(kind, start, end)``: the token is ``sql[start:end]``.
Token = Tuple[str, int, int]

_STRING_STANDARD = r"(?:[XxBbNnRr]|[Uu]&)?'[^']*(?:''[^']*)*'?"
# MySQL's default mode (and PostgreSQL with standard_conforming_strings off) also takes ``\'`` as an escape:
# redaction reads strings this way so that a MySQL ``'it\'s secret'`` is masked whole (over-masking is the safe side).
_STRING_BACKSLASH = r"(?:[XxBbNnRr]|[Uu]&)?'[^'\\]*(?:(?:''|\\[\s\S])[^'\\]*)*'?"

# The alternatives in the order they are tried, by group name (``STRING`` stands for one of the two above).
_ALTERNATIVES = (
    ("sp", r"\s+|--[^\n]*|/\*M?!\d*|\*/"),
    ("cm", r"/\*[^*/]*(?:(?:\*(?!/)|/(?!\*))[^*/]*)*\*/"),
    ("cn", r"/\*"),
    ("e", r"[Ee]'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'?"),
    ("s", "STRING"),
    ("d", r"\$(?P<tag>(?:[^\W\d]\w*)?)\$[\s\S]*?(?:\$(?P=tag)\$|\Z)"),
    ("q", r'"[^"]*(?:""[^"]*)*"?|`[^`]*(?:``[^`]*)*`?|\[[^\W\d][\w $#@]*\]'),
    ("n", r"0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"),
    ("w", r"[^\W\d][\w$]*"),
    ("p", r"\?\d*|%s|%\(\w+\)s|:[^\W\d]\w*|\$\d+|@@?[\w$.]+"),
    ("o", r"::|:=|=>|<=|>=|<>|!=|\|\||->>|->|[\s\S]"),
)


def alternatives(backslash: bool = False) -> Dict[str, str]:
    """The tokenizer's alternatives (group name → pattern, in order) for patterns built from the same pieces.
    ``backslash``: MySQL's reading, where ``\\'`` escapes a quote and ``--`` opens a comment only before a space
    (``bal--1`` is ``bal - -1``)."""
    string = _STRING_BACKSLASH if backslash else _STRING_STANDARD
    found = {name: string if pattern == "STRING" else pattern for name, pattern in _ALTERNATIVES}
    if backslash:
        found["sp"] = found["sp"].replace("--[^\\n]*", "--(?=\\s|\\Z)[^\\n]*")
    return found


def _token_pattern(backslash: bool) -> re.Pattern[str]:
    return re.compile("|".join("(?P<%s>%s)" % item for item in alternatives(backslash).items()))


TOKEN = _token_pattern(False)
TOKEN_BACKSLASH = _token_pattern(True)

# lastgroup → kind: E-strings and dollar bodies are string literals.
_KIND = {"e": "s", "d": "s", "s": "s", "q": "q", "n": "n", "w": "w", "p": "p", "o": "o"}
_COMMENT_MARK = re.compile(r"/\*|\*/")
# What can open or close a group, a quoted run or a comment (``/*!`` included: skip_group steps over it).
_GROUP_MARK = re.compile(r"[()'\"`$]|--|/\*")


def comment_end(sql: str, start: int) -> int:
    """End of the (possibly nested) block comment opening at ``start``."""
    last = _ends
    ends = last[1] if last is not None and last[0] is sql else _comment_ends(sql)
    end = ends.get(start)
    if end is not None:
        return end
    # Unbalanced nest (MySQL does not nest): the first ``*/`` closes it, else the text's end does.
    close = sql.find("*/", start + 2)
    return len(sql) if close < 0 else close + 2


_ends: Optional[Tuple[str, Dict[int, int]]] = None


def _comment_ends(sql: str) -> Dict[int, int]:
    """Every ``/*`` of ``sql`` → the end of the ``*/`` that closes it, nesting counted, in one pass (kept for the
    text's next comments): a scan from each comment to the text's end would be quadratic in a text of unbalanced
    ones, ``/* reads /data/*.csv */`` repeated."""
    global _ends
    ends: Dict[int, int] = {}
    opened: list[int] = []
    for m in _COMMENT_MARK.finditer(sql):
        if m.group() == "/*":
            opened.append(m.start())
        elif opened:
            ends[opened.pop()] = m.end()
    _ends = (sql, ends)
    return ends


def next_token(sql: str, pos: int, pattern: re.Pattern[str] = TOKEN) -> Token:
    """The first token at or after ``pos``; ``("", len, len)`` at the end of the text."""
    match = pattern.match
    while True:
        m = match(sql, pos)
        if m is None:
            return ("", len(sql), len(sql))
        group = m.lastgroup
        if group == "sp" or group == "cm":
            pos = m.end()
        elif group == "cn":
            pos = comment_end(sql, pos)
        else:
            return (_KIND[group], m.start(), m.end())  # type: ignore[index]


def tokens(sql: str, pos: int = 0, backslash: bool = False) -> Iterator[Token]:
    """Every token of ``sql`` from ``pos`` on, comments and whitespace left out."""
    pattern = TOKEN_BACKSLASH if backslash else TOKEN
    end = len(sql)
    kinds = _KIND
    while pos < end:
        for m in pattern.finditer(sql, pos):
            group = m.lastgroup
            if group == "sp" or group == "cm":
                continue
            if group == "cn":
                pos = comment_end(sql, m.start())
                break
            yield (kinds[group], m.start(), m.end())  # type: ignore[index]
        else:
            return


# A group body in one match, for the common case: plain characters, ``-`` and ``/`` that open no comment, quoted
# runs (doubled quotes escaped; none right after ``E``/``e``, which may take backslash escapes) and up to two levels
# of nested parentheses, then the closing ``)``. Unrolled loops (no ambiguity) inside a lookahead whose capture is
# then consumed, so a failed match never backtracks; anything else (dollar bodies, comments, deeper nesting,
# unterminated quotes) fails the match and takes the step-by-step loop of skip_group.
_PLAIN = r"""[^()'"`$/-]*"""
_ATOM = r"""(?:-(?!-)|/(?!\*)|(?<![Ee])'[^']*(?:''[^']*)*'|"[^"]*(?:""[^"]*)*"|`[^`]*(?:``[^`]*)*`)"""
_FLAT = _PLAIN + "(?:" + _ATOM + _PLAIN + ")*"
_NEST1 = _FLAT + r"(?:\(" + _FLAT + r"\)" + _FLAT + ")*"
_GROUP_BODY = re.compile(r"(?=(" + _FLAT + r"(?:\(" + _NEST1 + r"\)" + _FLAT + r")*))\1\)")


def skip_group(sql: str, pos: int) -> int:
    """Position just after the ``)`` that closes a group whose ``(`` ends at ``pos`` (or the text's end).

    One regex match in the common case (``_GROUP_BODY``); otherwise jumps over uninteresting characters with one
    C-level search each time, and over quoted text with ``str.find``, so skipping a long CTE body or VALUES list
    costs far less than tokenizing it.
    """
    body = _GROUP_BODY.match(sql, pos)
    if body is not None:
        return body.end()
    depth = 1
    search = _GROUP_MARK.search
    find = sql.find
    end = len(sql)
    while True:
        m = search(sql, pos)
        if m is None:
            return end
        i = m.start()
        c = sql[i]
        if c == "(":
            depth += 1
            pos = i + 1
        elif c == ")":
            depth -= 1
            pos = i + 1
            if depth == 0:
                return pos
        elif c in "'\"`" and not (c == "'" and i and sql[i - 1] in "Ee" and not _word_char(sql, i - 2)):
            # A quoted run ends at the next unpaired quote (a doubled quote is an escaped one).
            pos = i + 1
            while True:
                close = find(c, pos)
                if close < 0:
                    return end
                if close + 1 < end and sql[close + 1] == c:
                    pos = close + 2
                    continue
                pos = close + 1
                break
        elif c == "-":
            close = find("\n", i)
            pos = end if close < 0 else close + 1
        elif c == "/" and not sql.startswith("/*!", i) and not sql.startswith("/*M!", i):
            pos = comment_end(sql, i)
        elif c in "$'":
            start = i - 1 if c == "'" else i  # E'…' (backslash escapes) and $tag$…$tag$ go to the tokenizer
            m = TOKEN.match(sql, start)
            pos = max(m.end() if m is not None else i + 1, i + 1)
        else:
            pos = i + 1


def _word_char(sql: str, i: int) -> bool:
    return i >= 0 and (sql[i].isalnum() or sql[i] in "_$")


def string_value(literal: str) -> str:
    """The content of a string token: quotes and prefix removed, ``''`` (and ``\\'`` in ``E''``) unescaped."""
    if literal.startswith("$"):
        tag_end = literal.index("$", 1) + 1
        body = literal[tag_end:]
        tag = literal[:tag_end]
        return body[: -len(tag)] if body.endswith(tag) and len(body) >= len(tag) else body
    quote = literal.find("'")
    prefix = literal[:quote]
    body = literal[quote + 1:]
    if body.endswith("'"):
        body = body[:-1]
    body = body.replace("''", "'")
    if prefix in ("E", "e"):
        body = body.replace("\\'", "'").replace("\\\\", "\\")
    return body


_SURROGATE = re.compile("[\ud800-\udfff]")


def sql_text(query: object) -> str:
    """A statement as text that JSON can carry: ``str`` as it is, but for lone surrogates (a path decoded with
    ``surrogateescape``), which become U+FFFD as invalid bytes do; bytes decoded as UTF-8 (invalid bytes
    replaced); anything else (a driver's composed-SQL object) through ``str``."""
    if isinstance(query, str):
        if query.isascii():
            return query
        try:
            query.encode("utf-8")
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", query)
        return query
    if isinstance(query, (bytes, bytearray, memoryview)):
        return bytes(query).decode("utf-8", "replace")
    return sql_text(str(query))
