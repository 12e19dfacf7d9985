"""Statement fingerprints for grouping repeats, and literal redaction (SPEC §5 ``RYFT_REDACT_LITERALS``).

``fingerprint``: string and number literals and placeholders become ``?``; lists of values in ``IN (…)`` (and
``ANY``/``ALL``/``ARRAY``) and repeated rows of a multi-row ``VALUES`` collapse to one, so ``IN (?, ?)`` and
``IN (?, ?, ?)`` fingerprint equal; comments go, whitespace is normalised and keywords are upper-cased (identifiers
keep their spelling). Cached by text.

``redact_literals``: the text exactly as written except that every string and number literal becomes ``?``;
identifiers, comments' text and placeholders (``?``, ``%s``, ``:name``, ``$1``) are untouched. Strings are read
as MySQL reads them (backslash escapes; ``--`` a comment only before a space) and, when the text holds a backslash
or an unspaced ``--``, also as PostgreSQL does: what either reading calls a literal is masked, so neither
``'O\\'Brien'``, ``'C:\\dir\\'`` nor ``SET bal=bal--1 WHERE ssn='…'`` leaks.
Double-quoted text is an identifier (SQL standard), so MySQL's non-ANSI ``"string"`` literals are not masked.

``redact_message``: the same promise for a failure's message, which is prose, not SQL: drivers quote the values
they refused there (PostgreSQL's ``DETAIL:  Key (email)=(bob@example.com)``, MySQL's ``Duplicate entry 'bob'``,
DuckDB's ``Duplicate key "email: bob"``) and echo the statement (``LINE 1: …``). Every quoted text, in single or
double quotes (identifiers too: the safe side), every number standing alone, and what PostgreSQL lists after
``=`` or ``contains`` in parentheses becomes ``?``.

Speed (the first two run per statement; the message mask per failure only): a plain text (no quoted names, dollar
bodies, prefixed strings or nested comments; ASCII once strings are out) is cut by ``str.split`` and rendered by a
lean loop; other ASCII texts by one ``findall``; the rest by the full tokenizer. Tests prove every path equal to the
full tokenizer's reading. Redaction skips, in one regex match, every run of tokens it keeps.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple, Union

from ryft_instrument.sqllex import alternatives, comment_end, tokens

_CACHE_MAX = 4096
_cache: Dict[object, str] = {}

# For an ASCII text that is not plain (below): the tokenizer's alternatives behind one capturing group, so that
# ``findall`` returns token strings (whitespace left out) at C speed, strings before words as the tokenizer tries
# them, dotted names as one token (a ``.`` before a string prefix and its quote stays apart: the token path's
# ``name.`` renders the same). Dollar-quoted bodies and nested comments (which need a back-reference or counting)
# send the text to the token-by-token path instead; so does a non-ASCII one, whose letters Python's ``str`` and
# ``re`` class differently.
_FAST = re.compile(
    r"""\s*([Ee]'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'?|(?:[XxBbNnRr]|[Uu]&)?'[^']*(?:''[^']*)*'?"""
    r"""|[A-Za-z_][\w$]*(?:\.(?!(?:[XxBbNnRrEe]|[Uu]&)')(?=[A-Za-z_])[\w$]*)*|[(),]|--[^\n]*|/\*M?!\d*|\*/"""
    r"""|/\*[^*/]*(?:(?:\*(?!/)|/(?!\*))[^*/]*)*\*/|/\*"""
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
# Tokens shown as one word with spaces around, mapped to how they are shown: keywords as usually spelled (lower,
# UPPER, Capitalised; other spellings go through ``str.upper``) and the operators that take no special care.
_SPACED = {form: word for word in KEYWORDS for form in (word, word.lower(), word.capitalize())}
_SPACED.update((op, op) for op in ("=", "*", "?", "<", ">", "<=", ">=", "<>", "!=", "+", "-", "/", "!", "|", "||", "%"))
_SPLIT_SAME = dict(_SPACED, **{",": ",", ")": ")", ";": ";"})
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_STRING_PREFIX = frozenset("EeXxBbNnRrUu")
# Spacing: tokens are separated by one space, except none before a token starting with one of _CLOSE (or ``::``)
# and none after a token ending with one of _OPEN (or ``::``). This is what joining with spaces and then removing
# these spaces gives, pair by pair; _TIGHTEN does the same inside a quoted name that holds spaces.
_CLOSE = frozenset(",).;[]")
_OPEN = frozenset("(.[")
_TIGHTEN = ((" ,", ","), ("( ", "("), (" )", ")"), (" . ", "."), (" .", "."), (". ", "."), (" ::", "::"),
            (":: ", "::"), (" ;", ";"), (" [", "["), ("[ ", "["), (" ]", "]"))
# Post-passes on the rendered text (literals are ``?`` by then, keywords upper-case), each behind a cheap test. Each
# starts with the literal " (" or " " (a fast scan) and looks behind it for its keyword.
_VALUE_LIST = re.compile(r" \((?:(?<=\bIN \()|(?<=\bANY \()|(?<=\bALL \()|(?<=\bSOME \())\?(?:, \?)+\)")
_TUPLE_LIST = re.compile(r" \((?<=\bIN \()(\([^()]*\))(?:, \1)+\)")
_ROWS = re.compile(r" (?<=\bVALUES )(\([^()]*\))(?:, \1)+")

# The plain path: a text without quoted names, dollar bodies or executable comments, whose strings are plain
# ``'…'`` (no prefix) and which is ASCII once its strings are ``?`` and its comments gone. Deleting the ordinary
# characters (bytes.translate, C speed) leaves what needs a look; _MARKED then takes out the strings and comments
# in one substitution. Splitting at whitespace with ``(),;=*?`` (and ``<>-+/!|`` when present) spaced
# out reads such a text as the tokenizer does unless it holds another operator or placeholder, an operator of two
# characters (_JOINED), a dot outside ``name.name`` or ``?1``, ``?a`` (_SHAPE), or a number other than a digit
# run (_render_split checks those); such a text is read by _PLAIN_TOKEN instead, the tokenizer's own alternatives
# for what a plain text can hold, dotted names joined as _slow_parts joins them.
_ORDINARY = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f(),=*;"
# A string (group "s"; none after a word character or "&": E'…', N'…', U&'…'), a comment that does not nest (not
# executable), a "/*" that opens any other (group "c", kept) or a stray ``*/``, as the tokenizer reads them. A quote
# or a ``/*`` left after replacing them ends plainness. Each alternative starts with a literal, outside any
# group: the search then skips other characters at C speed.
_MARKED = re.compile(r"'(?<![\w&]')(?P<s>)[^']*(?:''[^']*)*'?|--[^\n]*"
                     r"|/\*(?!M?!)[^*/]*(?:(?:\*(?!/)|/(?!\*))[^*/]*)*\*/|/\*(?P<c>)|\*/")
_UNMARKED = {"s": " ? ", "c": "/*", None: " "}
# Operators that splitting spaces out when present, and the operators of two characters they begin or end.
_SPACED_OUT = {op: " %s " % op for op in "<>-+/!|"}
_JOINED = {"<": ("<=", "<>"), ">": (">=", "=>"), "!": ("!=",), "|": ("||",), "-": ("->",)}
# A text's shape: letters and "_" as "a", digits as "0", "." and "?" as themselves, anything else as a space; a dot
# outside ``name.name`` or a ``?`` against a word shows as one of _MISREAD in it.
_SHAPE = bytes(ord("a") if chr(i).isalpha() or chr(i) == "_" else ord("0") if chr(i).isdigit()
               else i if chr(i) in ".?" else ord(" ") for i in range(128)) + b" " * 128
_MISREAD = (" .", ". ", "..", ".0", ".?", "?.", "?a", "?0")
_PLAIN_TOKEN = re.compile(
    r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
    r"|\?\d*|%s|%\(\w+\)s|:[A-Za-z_]\w*|@@?[\w.]+|::|:=|=>|<=|>=|<>|!=|\|\||->>|->|\S"
)


class _SlowPathError(Exception):
    """The fast path met a dollar-quoted body or a nested comment."""


class _SplitError(Exception):
    """_render_split met a token that splitting cut wrong."""


def _plain_text(sql: str) -> Optional[Tuple[str, str]]:
    """``sql`` with its strings as `` ? `` and its comments as spaces, and what _remarkable finds in that; None
    when ``sql`` is not plain."""
    rest = _remarkable(sql.encode("ascii", "ignore"))
    if '"' in rest or "`" in rest or "$" in rest or "[" in rest or "]" in rest:
        return None  # a quoted name, a dollar body or a bracket (maybe inside a string: the tokenizer decides)
    text = sql
    if "'" in rest or "-" in rest or "/" in rest:
        text = _MARKED.sub(_unmark, sql)
        if "'" in text or "/*" in text:
            return None  # a prefixed string (E'…', N'…'), a nested, executable or unterminated comment
    if not text.isascii():
        return None
    if "%" in rest:
        text = text.replace("%s", " ? ")
    elif text is sql:
        return text, rest
    return text, _remarkable(text.encode())


def _remarkable(text: bytes) -> str:
    """The characters of an ASCII ``text`` that are not _ORDINARY (bytes.translate deletes at C speed)."""
    return text.translate(None, _ORDINARY).decode()


def _unmark(m: re.Match[str]) -> str:
    return _UNMARKED[m.lastgroup]


def _split(text: str, rest: str) -> Optional[List[str]]:
    """The tokens of a plain text, or None when splitting would misread it (digit-led tokens aside)."""
    if rest.strip(".?"):
        if rest.strip(".?<>-+/!|"):
            return None  # another operator or placeholder
        ops = [op for op in "<>-+/!|" if op in rest]
        for op in ops:
            for joined in _JOINED.get(op, ()):
                if joined in text:
                    return None
        for op in ops:
            text = text.replace(op, _SPACED_OUT[op])
    if "." in rest or "?" in rest:
        shape = " %s " % text.encode().translate(_SHAPE).decode()
        for misread in _MISREAD:
            if misread in shape:
                return None
    return (text.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").replace("=", " = ").replace("*", " * ")
            .replace(";", " ; ").replace("?", " ? ").split())


def _render_split(parts: List[str]) -> str:
    """_render for what _split returns: keywords, names (dotted or not), digit runs, ``(),;?`` and operators.

    Such tokens need only these four of _TIGHTEN's spaces removed, so they are joined and then tightened, which
    costs less than spacing each token as _render does."""
    out: List[str] = []
    append = out.append
    ident = False  # the previous token was a name: a "(" after it is a call
    same = _SPLIT_SAME
    for tok in parts:
        word = same.get(tok)
        if word is not None:
            append(word)
            ident = False
            continue
        c = tok[0]
        if c in _NAME_START:
            if tok.islower() or tok.upper() not in KEYWORDS:
                append(tok)
                ident = True
                continue
            append(tok.upper())
        elif c == "(":
            if ident:
                out[-1] += "("
            else:
                append("(")
        elif c.isdigit() and tok.isdigit():
            if out and out[-1] in _SIGNS:
                _drop_sign(out)
            append("?")
        else:
            raise _SplitError  # 1.5, 1e5, 0x1F, 1abc, .5
        ident = False
    while out and out[-1] == ";":
        out.pop()
    return _collapse(" ".join(out).replace(" ,", ",").replace("( ", "(").replace(" )", ")").replace(" ;", ";"))


def _render(parts: List[str], fast: bool) -> str:
    """Normalise raw tokens (no whitespace) into the fingerprint text."""
    out: List[str] = []
    append = out.append
    glue = True  # no space before the next token
    ident = False  # the previous token was a name: a "(" after it is a call
    same = _SPACED
    for tok in parts:
        word = same.get(tok)
        if word is not None:
            append(word if glue else " " + word)
            glue = ident = False
            continue
        c = tok[0]
        if c == "(":
            if ident:
                out[-1] += "("
            else:
                append("(" if glue else " (")
            glue = True
            ident = False
            continue
        if c == "," or c == ")":
            append(tok)
            glue = ident = False
            continue
        if c.isalpha() or c == "_":
            if len(tok) > 1 and tok[1] in "'&" and c in _STRING_PREFIX:  # E'…', N'…', U&'…' (maybe unterminated)
                tok = "?"
                ident = False
            elif (tok.isascii() and tok.islower()) or tok.upper() not in KEYWORDS:
                append(tok if glue else " " + tok)
                glue = tok[-1] == "."  # the token path's ``name.`` before a string
                ident = True
                continue
            else:
                tok = tok.upper()
                ident = False
        elif c == "?" or c == "'":
            tok = "?"
            ident = False
        elif c.isdigit() or (c == "." and len(tok) > 1):
            if out and out[-1] in _SIGNS and _drop_sign(out):
                glue = not out or _opens(out[-1])
            tok = "?"
            ident = False
        elif (c == "-" and tok[:2] == "--") or (c == "*" and tok == "*/"):
            continue
        elif c == "/" and tok[:2] == "/*":
            if fast and tok == "/*":
                raise _SlowPathError
            continue
        elif c == "$" and len(tok) > 1:
            if fast and tok[-1] == "$":
                raise _SlowPathError
            tok = "?"
            ident = False
        elif c in "%:" and len(tok) > 1 and tok[1] not in ":=":
            tok = "?"
            ident = False
        else:
            ident = c in "\"`[" and len(tok) > 1
            if ident and " " in tok:
                for spaced, tight in _TIGHTEN:
                    if spaced in tok:
                        tok = tok.replace(spaced, tight)
            append(tok if glue or c in _CLOSE or tok[:2] == "::" else " " + tok)
            glue = _opens(tok)
            continue
        append(tok if glue else " " + tok)
        glue = False
    while out and out[-1] == ";":
        out.pop()
    return _collapse("".join(out))


def _collapse(text: str) -> str:
    """One ``?`` for a list of values, one row or tuple for a list of equal ones."""
    if "?, ?" in text:
        text = _VALUE_LIST.sub(" (?)", text)
    if "), (" in text:
        text = _ROWS.sub(r" \1", _TUPLE_LIST.sub(r" (\1)", text))
    return text


_SIGNS = frozenset(("-", "+", " -", " +"))


def _drop_sign(out: List[str]) -> bool:
    """Drop the ``-``/``+`` that ends ``out`` when it is a sign, not a binary operator: ``x = -1`` is ``x = 1`` with
    another value."""
    before = out[-2] if len(out) > 1 else ""
    if before[:1] == " ":
        before = before[1:]
    if not before or before in KEYWORDS or not (before[0].isalnum() or before[0] in "_\"`)]?"):
        out.pop()
        return True
    return False


def _opens(tok: str) -> bool:
    """Whether no space follows ``tok`` (as rendered)."""
    return tok[-1] in _OPEN or tok[-2:] == "::"


def _fingerprint(sql: str) -> str:
    plain = _plain_text(sql)
    if plain is not None:
        text, rest = plain
        parts = _split(text, rest)
        if parts is not None:
            try:
                return _render_split(parts)
            except _SplitError:
                pass
        return _render(_PLAIN_TOKEN.findall(text), False)
    if sql.isascii():
        try:
            return _render(_FAST.findall(sql), True)
        except _SlowPathError:
            pass
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


def _redaction_pattern(backslash: bool) -> re.Pattern[str]:
    """One match: a run of tokens that are kept, then one literal (group ``lit``) or a nested comment (``cn``).

    The run takes, at each position, what the tokenizer (strings read with or without ``backslash`` escapes) would
    take there unless that is a literal or a nested comment: its own alternatives in its order, guarded by
    lookaheads for the starts of the ones it leaves out. Nothing follows the run that could fail, so the run never
    backtracks; whitespace, words and operators cost no Python step each."""
    alt = alternatives(backslash=backslash)
    starts = r"/\*|[Ee]'|(?:[XxBbNnRr]|[Uu]&)?'|\$(?:[^\W\d]\w*)?\$"
    kept = r"%s|%s|(?!%s)(?:%s|(?!\d|\.\d)(?:%s|%s|%s))" % (
        alt["sp"], alt["cm"], starts, alt["q"], alt["w"], alt["p"], alt["o"])
    return re.compile(r"(?:%s)*(?:(?P<cn>/\*)|(?P<lit>%s|%s|%s|%s))?" % (
        kept, alt["e"], alt["s"], alt["d"], alt["n"]))


# Without a quote, a digit or a dollar a text holds no literal.
_LITERAL_HINT = re.compile(r"['$\d]")
_REDACT = _redaction_pattern(True)
_REDACT_STANDARD = _redaction_pattern(False)
_DASHES_UNSPACED = re.compile(r"--(?!\s|\Z)")


def redact_literals(sql: str) -> str:
    """``sql`` with every string and number literal replaced by ``?``; everything else exactly as written.

    A backslash before a quote escapes it in MySQL and ends the string in PostgreSQL, SQLite and DuckDB
    (``'C:\\dir\\'``), and ``--`` before anything but a space opens a comment there and not in MySQL
    (``bal--1``): when the text holds either, what either reading calls a literal is masked."""
    try:
        if _LITERAL_HINT.search(sql) is None:
            return sql
        spans = _literal_spans(sql, _REDACT)
        if "\\" in sql or ("--" in sql and _DASHES_UNSPACED.search(sql) is not None):
            spans = _merged(spans + _literal_spans(sql, _REDACT_STANDARD))
        pieces: List[str] = []
        last = 0
        for start, end in spans:
            pieces.append(sql[last:start])
            pieces.append("?")
            last = end
        pieces.append(sql[last:])
        return "".join(pieces)
    except Exception:
        return "?"


def _literal_spans(sql: str, pattern: re.Pattern[str]) -> List[Tuple[int, int]]:
    """Where ``pattern`` (a ``_redaction_pattern``) finds literals, in order."""
    spans: List[Tuple[int, int]] = []
    pos = 0
    end = len(sql)
    match = pattern.match
    while pos < end:
        m = match(sql, pos)
        if m is None:  # never: the run takes any character that starts no literal
            break
        literal = m.start("lit")
        if literal >= 0:
            spans.append((literal, m.end()))
            pos = m.end()
        elif m.start("cn") >= 0:
            pos = comment_end(sql, m.start("cn"))
        else:
            break
    return spans


def _merged(spans: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Overlapping spans as one, in order (touching ones stay two literals, as within one reading)."""
    merged: List[Tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


_MESSAGE_VALUES = re.compile(
    r"'(?:[^'\\]|\\.|'')*(?:'|$)"  # single-quoted, to the end if the message was cut
    r'|"(?:[^"\\]|\\.|"")*(?:"|$)'  # double-quoted
    r"|(?<==)\([^)]*\)?|(?<=contains )\([^)]*\)?"  # PostgreSQL's Key (…)=(values), Failing row contains (values)
    # a number standing alone, unless it is where the error is (LINE 1, line 1:8, at row 2)
    r"|(?<![\w.])(?<!line )(?<!LINE )(?<!row )(?<!\d:)[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])"
)
# PyMySQL's and mysqlclient's str(): the repr of (errno, "message").
_ERRNO_AND_MESSAGE = re.compile(r"""\A\((-?\d+), (["'])(.*)\2\)\Z""", re.S)


def _mask_value(match: re.Match[str]) -> str:
    return "(?)" if match.group().startswith("(") else "?"


def redact_message(message: str) -> str:
    """A failure message with the values it may carry replaced by ``?`` (see the module docstring)."""
    try:
        pair = _ERRNO_AND_MESSAGE.match(message)
        if pair is not None:
            errno, quote, text = pair.groups()
            return "(%s, %s%s%s)" % (errno, quote, _MESSAGE_VALUES.sub(_mask_value, text), quote)
        return _MESSAGE_VALUES.sub(_mask_value, message)
    except Exception:
        return "?"
