"""Statement classification: SQL text → Trino ``QueryType`` (SPEC §2).

The first keyword decides most statements at the cost of one regex match; only the forms whose type depends on what
follows (``WITH``, ``SELECT … INTO``, ``CREATE TABLE … AS``, ``EXPLAIN``, ``COPY``, ``PRAGMA``, ``ALTER TABLE …
EXECUTE``, ``EXECUTE IMMEDIATE``, …) read further, token by token at parenthesis depth 0, jumping over parenthesised
groups with :func:`ryft_instrument.sqllex.skip_group`. Results are cached by text: a repeated text costs one dict
lookup. Nothing here raises.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Callable, Dict, Hashable, Optional, Tuple, Union

from ryft_instrument.sqllex import Token, next_token, skip_group, string_value

SELECT = "SELECT"
EXPLAIN = "EXPLAIN"
DESCRIBE = "DESCRIBE"
INSERT = "INSERT"
UPDATE = "UPDATE"
DELETE = "DELETE"
ANALYZE = "ANALYZE"
DATA_DEFINITION = "DATA_DEFINITION"
ALTER_TABLE_EXECUTE = "ALTER_TABLE_EXECUTE"
MERGE = "MERGE"

_CACHE_MAX = 8192
_MISSING = object()
_cache: Dict[object, Optional[str]] = {}

# Texts longer than this are classified from their head where a rule allows (SELECT … INTO, CREATE TABLE … AS).
_HEAD = 65536
# Bound on the depth-0 tokens read for any one decision, and on nesting (EXPLAIN ANALYZE EXECUTE IMMEDIATE '…').
_MAX_STEPS = 512
_MAX_DEPTH = 8

# A plain word or one punctuation character, whitespace first: the common case, cheaper than the full tokenizer.
# A word directly followed by a quote is a string prefix (E'…', N'…') and left to the full tokenizer; a ``*``
# directly followed by ``/`` closes an executable comment (whitespace to the tokenizer).
_QUICK = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_$]*)(?![$'\w])|([(),;=.]|\*(?!/)))")
# A statement's first word in one match: whitespace, comments (the tokenizer's own alternatives, in its order) and
# ``(``/``;`` skipped, then a word as ``_QUICK`` reads it. The lookahead-and-backreference makes the skip atomic (no
# backtracking into a comment to find a word in it); a nested or unterminated comment makes the match fail and
# leaves the text to the token-by-token path.
_LEAD = re.compile(
    r"(?=((?:\s+|--[^\n]*|/\*M?!\d*|\*/|/\*[^*/]*(?:(?:\*(?!/)|/(?!\*))[^*/]*)*\*/|[(;])*))\1"
    r"(?P<w>[A-Za-z_][A-Za-z0-9_$]*)(?![$'\w])"
)
_QUICK_WORD = re.compile(r"\s*(?P<w>[A-Za-z_][A-Za-z0-9_$]*)(?![$'\w])")
_END = r"(?![$'\w])"  # a word as _QUICK reads it ends here


def _ci(*words: str) -> str:
    """Regex alternatives matching ``words`` in any ASCII case (``re.IGNORECASE`` would also fold ``ſ``, ``K``)."""
    return "(?:%s)" % "|".join("".join("[%s%s]" % (c.upper(), c.lower()) if c.isalpha() else c for c in word)
                               for word in words)

# Statements decided by their first keyword alone.
_FIRST: Dict[str, str] = {
    "INSERT": INSERT, "REPLACE": INSERT, "UPSERT": INSERT, "IMPORT": INSERT,
    "UPDATE": UPDATE, "DELETE": DELETE, "MERGE": MERGE,
    "VALUES": SELECT, "TABLE": SELECT, "FROM": SELECT, "PIVOT": SELECT, "UNPIVOT": SELECT, "SUMMARIZE": SELECT,
    "FETCH": SELECT, "MOVE": SELECT, "UNLOAD": SELECT, "EXPORT": SELECT,
    "SHOW": DESCRIBE, "DESCRIBE": DESCRIBE, "DESC": DESCRIBE,
}
# Words that open a statement that EXPLAIN / ANALYZE / WITH may wrap; anything else after EXPLAIN is a table name.
_STATEMENT_WORDS = frozenset(
    "SELECT WITH INSERT REPLACE UPSERT UPDATE DELETE MERGE VALUES TABLE FROM PIVOT UNPIVOT SUMMARIZE CREATE EXECUTE "
    "DECLARE ALTER DROP SHOW DESCRIBE COPY EXPLAIN".split()
)
# After WITH …, the first of these at depth 0 is the outermost statement.
_WITH_MAIN = frozenset("SELECT INSERT REPLACE UPSERT UPDATE DELETE MERGE VALUES TABLE FROM PIVOT UNPIVOT WITH".split())
_EXPLAIN_OPTIONS = frozenset(
    "VERBOSE EXTENDED PARTITIONS QUERY PLAN COSTS BUFFERS TIMING SUMMARY SETTINGS WAL GRAPHVIZ LOGICAL PHYSICAL "
    "OPTIMIZED ALL".split()
)
_OFF = frozenset(("FALSE", "OFF", "0", "NO"))
_CREATE_TABLE_PREFIX = frozenset(
    "OR REPLACE TEMP TEMPORARY UNLOGGED GLOBAL LOCAL TRANSIENT VOLATILE MULTISET EXTERNAL".split()
)
_QUERY_START = frozenset(("SELECT", "WITH", "VALUES", "TABLE", "FROM", "EXECUTE", "PIVOT", "UNPIVOT"))
# Those no dialect lets name a column unquoted.
_RESERVED_QUERY_START = frozenset(("SELECT", "WITH", "VALUES", "TABLE"))
# PRAGMA forms that take an argument yet change state (``PRAGMA cache_size(1000)`` is ``PRAGMA cache_size = 1000``),
# and argument-less pragmas that act rather than read.
_PRAGMA_SETTERS = frozenset(
    """application_id auto_vacuum automatic_index busy_timeout cache_size cache_spill case_sensitive_like
    cell_size_check checkpoint_fullfsync defer_foreign_keys encoding foreign_keys fullfsync hard_heap_limit
    ignore_check_constraints journal_mode journal_size_limit legacy_alter_table locking_mode max_page_count mmap_size
    page_size query_only read_uncommitted recursive_triggers reverse_unordered_selects secure_delete soft_heap_limit
    synchronous temp_store threads trusted_schema user_version wal_autocheckpoint writable_schema memory_limit
    default_order default_null_order profiling_mode profile_output wal_checkpoint incremental_vacuum shrink_memory
    force_checkpoint""".split()
)


def _tok(sql: str, pos: int) -> Token:
    m = _QUICK.match(sql, pos)
    if m is not None:
        if m.lastindex == 1:
            return ("w", m.start(1), m.end())
        return ("o", m.start(2), m.end())
    return next_token(sql, pos)


def _word(sql: str, tok: Token) -> str:
    """Upper-cased text of a word token, ``""`` for any other token."""
    return sql[tok[1]:tok[2]].upper() if tok[0] == "w" else ""


def _is(sql: str, tok: Token, char: str) -> bool:
    return tok[0] == "o" and sql[tok[1]:tok[2]] == char


def _statement(sql: str, pos: int, depth: int) -> Optional[str]:
    """Type of the statement starting at ``pos``; None when nothing but comments and ``;`` remain."""
    if depth > _MAX_DEPTH:
        return DATA_DEFINITION
    lead = _QUICK_WORD.match(sql, pos) or _LEAD.match(sql, pos)
    if lead is not None:
        return _dispatch(sql, lead.group("w").upper(), lead.end(), depth)
    tok = _tok(sql, pos)
    while tok[0] == "o" and sql[tok[1]] in "(;":
        tok = _tok(sql, tok[2])
    if not tok[0]:
        return None
    if tok[0] != "w":
        return DATA_DEFINITION
    return _dispatch(sql, sql[tok[1]:tok[2]].upper(), tok[2], depth)


def _dispatch(sql: str, word: str, end: int, depth: int) -> Optional[str]:
    """Type of the statement whose first word (upper-cased) ends at ``end``."""
    if depth > _MAX_DEPTH:
        return DATA_DEFINITION
    found = _FIRST.get(word)
    if found is not None:
        return found
    handler = _HANDLERS.get(word)
    return DATA_DEFINITION if handler is None else handler(sql, end, depth)


def _select(sql: str, pos: int, depth: int) -> Optional[str]:
    # PostgreSQL ``SELECT … INTO new_table`` writes a table; INTO OUTFILE/DUMPFILE/@var (MySQL) does not.
    if "into" not in sql[pos:pos + _HEAD].lower():
        return SELECT
    for _ in range(_MAX_STEPS):
        tok = _tok(sql, pos)
        kind = tok[0]
        if not kind:
            break
        if kind == "o":
            char = sql[tok[1]]
            if char == "(":
                pos = skip_group(sql, tok[2])
                continue
            if char in ");":
                break
        elif kind == "w":
            word = sql[tok[1]:tok[2]].upper()
            if word == "INTO":
                target = _tok(sql, tok[2])
                if target[0] == "q" or (target[0] == "w" and _word(sql, target) not in ("OUTFILE", "DUMPFILE")):
                    return INSERT
                return SELECT
            if word in ("FROM", "WHERE", "UNION", "EXCEPT", "INTERSECT"):
                break
        pos = tok[2]
    return SELECT


def _with(sql: str, pos: int, depth: int) -> Optional[str]:
    prev = ""
    in_function = False
    head = _CTE_HEAD.match(sql, pos)
    if head is not None:  # what the loop below would do with these tokens: nothing but skip the CTE's body
        pos = skip_group(sql, head.end())
        prev = ")"
    for _ in range(_MAX_STEPS * 4):
        tok = _tok(sql, pos)
        kind = tok[0]
        if not kind:
            return SELECT
        if kind == "o":
            char = sql[tok[1]:tok[2]]
            if char == "(":
                if prev == ")":  # WITH a AS (…) (SELECT …) UNION …
                    return _statement(sql, tok[1], depth + 1)
                pos = skip_group(sql, tok[2])
                prev = ")"
                continue
            if char == ";" and not in_function:
                return SELECT
            prev = char
        elif kind == "w":
            word = sql[tok[1]:tok[2]].upper()
            # Right after WITH, RECURSIVE or a comma comes a CTE's name, which may be any of these words
            # (``WITH upsert AS (UPDATE … RETURNING *) SELECT …``); the statement comes after a CTE's ``)``.
            if word in _WITH_MAIN and prev not in _CTE_NAME_BEFORE:
                return _dispatch(sql, word, tok[2], depth + 1)
            if word == "FUNCTION":  # Trino inline functions: their bodies may hold ``;``
                in_function = True
            prev = word
        else:
            prev = kind
        pos = tok[2]
    return SELECT


_CTE_NAME_BEFORE = frozenset(("", ",", "RECURSIVE", "RETURNS"))
# ``[RECURSIVE] name AS (`` in one match: plain words, none that the loop in _with would act on.
_CTE_HEAD = re.compile(
    r"\s*(?:" + _ci("RECURSIVE") + _END + r"\s*)?(?!" + _ci(*sorted(_WITH_MAIN | {"FUNCTION"})) + _END + ")"
    r"[A-Za-z_][A-Za-z0-9_$]*" + _END + r"\s*" + _ci("AS") + _END + r"\s*\("
)


def _explain_options(sql: str, pos: int) -> Tuple[Optional[bool], int]:
    """Read a PostgreSQL/Trino option list ``(ANALYZE, FORMAT JSON)``: whether ANALYZE is on, and the end."""
    analyze: Optional[bool] = None
    item_start = True
    for _ in range(_MAX_STEPS):
        tok = next_token(sql, pos)
        if not tok[0]:
            return analyze, tok[2]
        text = sql[tok[1]:tok[2]].upper()
        if tok[0] == "o" and text == ")":
            return analyze, tok[2]
        if tok[0] == "o" and text == "(":
            pos = skip_group(sql, tok[2])
            continue
        if item_start and text in ("ANALYZE", "ANALYSE"):
            value = next_token(sql, tok[2])
            value_text = sql[value[1]:value[2]].upper().strip("'")  # PostgreSQL takes ANALYZE 'off' too
            if value[0] == "o" and value_text in (",", ")"):
                analyze = True
            else:
                analyze = value_text not in _OFF
        item_start = text == ","
        pos = tok[2]
    return analyze, pos


# ``ANALYZE word``: the loop in _explain turns ANALYZE on, then dispatches a statement word.
_EXPLAIN_ANALYZE = re.compile(r"\s*" + _ci("ANALYZE", "ANALYSE") + _END + r"\s*(?P<w>[A-Za-z_][A-Za-z0-9_$]*)" + _END)


def _explain(sql: str, pos: int, depth: int) -> Optional[str]:
    quick = _EXPLAIN_ANALYZE.match(sql, pos)
    if quick is not None:
        word = quick.group("w").upper()
        if word in _STATEMENT_WORDS:
            return _dispatch(sql, word, quick.end(), depth + 1)
    analyze = False
    options = False
    for _ in range(32):
        tok = _tok(sql, pos)
        kind = tok[0]
        if kind == "o" and sql[tok[1]] == "(":
            inner = _tok(sql, tok[2])
            if _word(sql, inner) in _QUERY_START:
                return _statement(sql, tok[1], depth + 1) if analyze else EXPLAIN
            on, pos = _explain_options(sql, tok[2])
            analyze = analyze or bool(on)
            options = True
            continue
        if kind == "q":
            return EXPLAIN if options else DESCRIBE
        if kind != "w":
            return EXPLAIN
        word = sql[tok[1]:tok[2]].upper()
        pos = tok[2]
        if word in ("ANALYZE", "ANALYSE"):
            analyze = options = True
        elif word in _EXPLAIN_OPTIONS:
            options = True
        elif word in ("FORMAT", "TYPE"):  # MySQL FORMAT=JSON, Trino-style FORMAT JSON
            options = True
            value = _tok(sql, pos)
            if _is(sql, value, "="):
                value = _tok(sql, value[2])
            pos = value[2]
        elif word == "FOR":  # MySQL EXPLAIN FOR CONNECTION n
            return EXPLAIN
        elif word in _STATEMENT_WORDS:
            return _dispatch(sql, word, tok[2], depth + 1) if analyze else EXPLAIN
        else:
            return EXPLAIN if options else DESCRIBE  # MySQL ``EXPLAIN tbl`` is ``DESCRIBE tbl``
    return EXPLAIN


def _analyze(sql: str, pos: int, depth: int) -> Optional[str]:
    # MariaDB ``ANALYZE [FORMAT=JSON] stmt`` runs stmt and reports its plan, like EXPLAIN ANALYZE.
    tok = _tok(sql, pos)
    word = _word(sql, tok)
    if word == "FORMAT":
        value = _tok(sql, tok[2])
        if _is(sql, value, "="):
            value = _tok(sql, value[2])
        tok = _tok(sql, value[2])
        word = _word(sql, tok)
    if word in _STATEMENT_WORDS and word != "TABLE":
        return _dispatch(sql, word, tok[2], depth + 1)
    return ANALYZE


def _skip_name(sql: str, tok: Token) -> Token:
    """Skip a possibly qualified name (``a.b."c"``) starting at ``tok``; return the token after it."""
    while tok[0] in ("w", "q"):
        tok = _tok(sql, tok[2])
        if not _is(sql, tok, "."):
            return tok
        tok = _tok(sql, tok[2])
    return tok


def _skip_if_exists(sql: str, tok: Token) -> Token:
    if _word(sql, tok) == "IF":
        tok = _tok(sql, tok[2])
        if _word(sql, tok) == "NOT":
            tok = _tok(sql, tok[2])
        if _word(sql, tok) == "EXISTS":
            tok = _tok(sql, tok[2])
    return tok


# ``TABLE name AS|SELECT`` in one match: what _create_table reads as a CREATE TABLE … AS query.
_CTAS_HEAD = re.compile(
    r"\s*" + _ci("TABLE") + _END + r"(?P<table>)\s*(?!" + _ci("IF") + _END + r")[A-Za-z_][A-Za-z0-9_$]*" + _END
    + r"\s*(?P<query>" + _ci("AS", "SELECT") + ")" + _END
)


def _create(sql: str, pos: int, depth: int) -> Optional[str]:
    ctas = _CTAS_HEAD.match(sql, pos)
    if ctas is not None and ctas.start("query") <= ctas.end("table") + _HEAD:
        return INSERT
    tok = _tok(sql, pos)
    for _ in range(8):
        word = _word(sql, tok)
        if word == "TABLE":
            return _create_table(sql, tok[2])
        if word not in _CREATE_TABLE_PREFIX:
            return DATA_DEFINITION
        tok = _tok(sql, tok[2])
    return DATA_DEFINITION


def _create_table(sql: str, pos: int) -> Optional[str]:
    """CREATE TABLE … AS query (and MySQL's CREATE TABLE t [(…)] SELECT …) is a write: INSERT."""
    tok = _skip_name(sql, _skip_if_exists(sql, _tok(sql, pos)))
    limit = pos + _HEAD
    for _ in range(_MAX_STEPS):
        kind = tok[0]
        if not kind or tok[1] > limit:
            break
        if kind == "o":
            char = sql[tok[1]]
            if char == "(":
                # MySQL's CREATE TABLE t (SELECT …); not a column list's first name (``pivot INT``, ``execute``)
                if _word(sql, _tok(sql, tok[2])) in _RESERVED_QUERY_START:
                    return INSERT
                tok = _tok(sql, skip_group(sql, tok[2]))
                continue
            if char == ";":
                break
        elif kind == "w":
            word = sql[tok[1]:tok[2]].upper()
            if word == "AS" or word == "SELECT":
                return INSERT
        tok = _tok(sql, tok[2])
    return DATA_DEFINITION


def _alter(sql: str, pos: int, depth: int) -> Optional[str]:
    tok = _tok(sql, pos)
    if _word(sql, tok) != "TABLE":
        return DATA_DEFINITION
    tok = _skip_if_exists(sql, _tok(sql, tok[2]))
    if _word(sql, tok) == "ONLY":
        tok = _tok(sql, tok[2])
    tok = _skip_name(sql, tok)
    return ALTER_TABLE_EXECUTE if _word(sql, tok) == "EXECUTE" else DATA_DEFINITION


# ``name FROM|TO``: the common COPY, decided by the loop in _copy at its second word.
_COPY_HEAD = re.compile(
    r"\s*(?!" + _ci("FROM", "INTO", "TO") + _END + r")[A-Za-z_][A-Za-z0-9_$]*" + _END
    + r"\s*(?P<w>" + _ci("FROM", "TO") + ")" + _END
)


def _copy(sql: str, pos: int, depth: int) -> Optional[str]:
    """COPY … FROM is a bulk load (INSERT); COPY … TO an export (SELECT)."""
    quick = _COPY_HEAD.match(sql, pos)
    if quick is not None:
        return INSERT if quick.group("w").upper() == "FROM" else SELECT
    tok = _tok(sql, pos)
    word = _word(sql, tok)
    if word == "FROM":  # DuckDB COPY FROM DATABASE a TO b
        return INSERT
    if word == "INTO":  # Snowflake: COPY INTO @stage / 'url' unloads, COPY INTO table loads
        target = _tok(sql, tok[2])
        return SELECT if target[0] in ("p", "s") else INSERT
    for _ in range(_MAX_STEPS):
        kind = tok[0]
        if not kind:
            break
        if kind == "o":
            char = sql[tok[1]]
            if char == "(":
                tok = _tok(sql, skip_group(sql, tok[2]))
                continue
            if char == ";":
                break
        elif kind == "w":
            word = sql[tok[1]:tok[2]].upper()
            if word == "FROM":
                return INSERT
            if word == "TO":
                return SELECT
        tok = _tok(sql, tok[2])
    return DATA_DEFINITION


def _load(sql: str, pos: int, depth: int) -> Optional[str]:
    return INSERT if _word(sql, _tok(sql, pos)) in ("DATA", "XML") else DATA_DEFINITION


def _refresh(sql: str, pos: int, depth: int) -> Optional[str]:
    return INSERT if _word(sql, _tok(sql, pos)) == "MATERIALIZED" else DATA_DEFINITION


def _declare(sql: str, pos: int, depth: int) -> Optional[str]:
    # DECLARE name [BINARY] [INSENSITIVE] [NO SCROLL] CURSOR [WITH HOLD] FOR query
    tok = _tok(sql, pos)
    for _ in range(10):
        if not tok[0]:
            break
        if _word(sql, tok) == "CURSOR":
            return SELECT
        tok = _tok(sql, tok[2])
    return DATA_DEFINITION


def _pragma(sql: str, pos: int, depth: int) -> Optional[str]:
    tok = _tok(sql, pos)
    name = ""
    while tok[0] in ("w", "q"):
        name = sql[tok[1]:tok[2]].strip('"`[]').lower()
        tok = _tok(sql, tok[2])
        if not _is(sql, tok, "."):
            break
        tok = _tok(sql, tok[2])
    if name == "optimize":
        return ANALYZE
    if _is(sql, tok, "="):
        return DATA_DEFINITION
    if name in _PRAGMA_SETTERS or name.startswith(("enable_", "disable_")):
        # ``PRAGMA journal_mode`` alone reads; with a value or for an action it changes state.
        if _is(sql, tok, "(") or name in ("wal_checkpoint", "incremental_vacuum", "shrink_memory", "force_checkpoint"):
            return DATA_DEFINITION
        return DESCRIBE if not name.startswith(("enable_", "disable_")) else DATA_DEFINITION
    return DESCRIBE


def _execute(sql: str, pos: int, depth: int) -> Optional[str]:
    tok = _tok(sql, pos)
    if _word(sql, tok) == "IMMEDIATE":
        body = next_token(sql, tok[2])
        if body[0] == "s":
            return _statement(string_value(sql[body[1]:body[2]]), 0, depth + 1) or DATA_DEFINITION
    return DATA_DEFINITION


_HANDLERS: Dict[str, Callable[[str, int, int], Optional[str]]] = {
    "SELECT": _select, "WITH": _with, "EXPLAIN": _explain, "ANALYZE": _analyze, "ANALYSE": _analyze,
    "CREATE": _create, "ALTER": _alter, "COPY": _copy, "LOAD": _load, "REFRESH": _refresh, "DECLARE": _declare,
    "PRAGMA": _pragma, "EXECUTE": _execute,
}


def _text(sql: object) -> Optional[str]:
    if isinstance(sql, str):
        return sql
    if isinstance(sql, (bytes, bytearray, memoryview)):
        return bytes(sql).decode("utf-8", "replace")
    return None


def _classify(sql: object) -> Optional[str]:
    text = _text(sql)
    if text is None:
        return None
    return _statement(text, 0, 0)


def query_type(sql: Union[str, bytes, None]) -> Optional[str]:
    """Return the Trino ``QueryType`` of ``sql`` (SPEC §2), or None when it holds no statement. Never raises."""
    try:
        found = _cache.get(sql, _MISSING)
    except Exception:  # unhashable (bytearray, memoryview): classify without caching
        found = _MISSING
        sql = _text(sql)
    if found is not _MISSING:
        return found  # type: ignore[return-value]
    try:
        found = _classify(sql)
    except Exception:
        found = DATA_DEFINITION
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    if sql is not None:
        _cache[sql] = found
    return found


def clear_cache() -> None:
    """Forget every cached classification (benchmarks measure the uncached path with it)."""
    _cache.clear()
    _prepared_info.clear()


# --- prepared statements, per session ------------------------------------------------------------------------------

_MAX_SESSIONS = 256
_MAX_NAMES = 256
_sessions: OrderedDict[Hashable, OrderedDict[str, str]] = OrderedDict()
_sessions_lock = threading.Lock()
# text → ("prepare", name, type) | ("execute", name, "") | ("deallocate", name or "", "") | None
_PrepInfo = Optional[Tuple[str, str, str]]
_prepared_info: Dict[object, _PrepInfo] = {}


def _name(sql: str, tok: Token) -> str:
    text = sql[tok[1]:tok[2]]
    return text[1:-1] if tok[0] == "q" else text.lower()


def _parse_prepared(sql: str) -> _PrepInfo:
    tok = _tok(sql, 0)
    word = _word(sql, tok)
    if word == "PREPARE":
        name_tok = _tok(sql, tok[2])
        if name_tok[0] not in ("w", "q") or _word(sql, name_tok) == "TRANSACTION":
            return None
        tok = _tok(sql, name_tok[2])
        if _is(sql, tok, "("):  # PostgreSQL parameter types
            tok = _tok(sql, skip_group(sql, tok[2]))
        if _word(sql, tok) not in ("AS", "FROM"):
            return None
        body = next_token(sql, tok[2])
        if body[0] == "s":  # MySQL PREPARE name FROM 'text'
            inner = query_type(string_value(sql[body[1]:body[2]]))
        elif body[0] == "p":  # PREPARE name FROM @var: unknown text
            inner = None
        else:
            inner = _statement(sql, body[1], 1)
        return ("prepare", _name(sql, name_tok), inner or "")
    if word == "EXECUTE":
        name_tok = _tok(sql, tok[2])
        if name_tok[0] in ("w", "q") and _word(sql, name_tok) != "IMMEDIATE":
            return ("execute", _name(sql, name_tok), "")
        return None
    if word in ("DEALLOCATE", "DROP", "DISCARD"):
        tok = _tok(sql, tok[2])
        if word == "DISCARD":
            return ("deallocate", "", "") if _word(sql, tok) == "ALL" else None
        if _word(sql, tok) == "PREPARE":
            tok = _tok(sql, tok[2])
        elif word == "DROP":
            return None
        if tok[0] not in ("w", "q"):
            return None
        return ("deallocate", "" if _word(sql, tok) == "ALL" else _name(sql, tok), "")
    return None


def classify_statement(sql: Union[str, bytes, None], session: Optional[Hashable] = None) -> Optional[str]:
    """Classify ``sql`` as run on ``session`` (a connection key), remembering prepared statements.

    ``PREPARE name AS|FROM …`` is remembered per session (bounded), so that a later ``EXECUTE name`` takes the
    prepared statement's type; ``DEALLOCATE`` (and MySQL ``DROP PREPARE``, PostgreSQL ``DISCARD ALL``) forget it.
    Called by the exporter in statement order. Never raises.
    """
    found = query_type(sql)
    if found != DATA_DEFINITION or session is None:
        return found
    try:
        key: object = sql
        if key in _prepared_info:
            info = _prepared_info[key]
        else:
            text = _text(sql)
            info = _parse_prepared(text) if text is not None else None
            if len(_prepared_info) >= _CACHE_MAX:
                _prepared_info.clear()
            _prepared_info[key] = info
        if info is None:
            return found
        action, name, inner = info
        with _sessions_lock:
            names = _sessions.get(session)
            if action == "execute":
                return (names.get(name) if names is not None else None) or DATA_DEFINITION
            if action == "deallocate":
                if names is not None:
                    if name:
                        names.pop(name, None)
                    else:
                        names.clear()
                return found
            if names is None:
                if len(_sessions) >= _MAX_SESSIONS:
                    _sessions.popitem(last=False)
                names = _sessions[session] = OrderedDict()
            else:
                _sessions.move_to_end(session)
            names.pop(name, None)
            if inner:
                if len(names) >= _MAX_NAMES:
                    names.popitem(last=False)
                names[name] = inner
        return found
    except Exception:
        return found
