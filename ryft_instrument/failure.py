"""Exception → ``failureInfo`` (SPEC §3).

``errorCode`` is resolved in this order, first match wins: the engine's own classification (Trino client exceptions'
``error_type``/``error_code``/``error_name``, copied); the driver's code (PostgreSQL SQLSTATE from psycopg ``sqlstate``,
psycopg2 ``pgcode``, asyncpg ``sqlstate``; MySQL/MariaDB errno and SQLSTATE; SQLite ``sqlite_errorcode``; DuckDB's
exception class); the PEP 249 class; Python builtins; else ``INTERNAL_ERROR``. Codes beat classes: PyMySQL raises
``OperationalError`` for an unknown column and psycopg ``InternalError`` for a statement in a failed transaction.

``code``/``name`` are Trino's ``StandardErrorCode`` where the meaning matches, else the generic code of the type. Trino
has no standard EXTERNAL codes (connectors define their own), so EXTERNAL carries the driver-level code: ``name`` is
``SQLSTATE_<state>``, ``MYSQL_<errno>``, the SQLite result-code name, ``DUCKDB_<Class>`` or the ``errno`` symbol, and
``code`` the driver's number where it has one (MySQL errno, SQLite extended result code, OS errno), else 196608.

Chains (SQLAlchemy's ``DBAPIError.orig``, ``raise … from …``, implicit context) become an array, outermost first, at
most :data:`MAX_CHAIN` items, cycle-safe. The most authoritative item (engine beats driver code beats PEP 249 class
beats builtin; the outermost among equals) decides the ``errorCode`` of the whole, and every item carries that same
``errorCode``, so a reader that looks at any one item sees the same classification; ``failureType`` and
``failureMessage`` stay each item's own. Nothing here raises, whatever ``str()`` or attribute access does.
"""

from __future__ import annotations

import errno as errno_module
from typing import Any, Dict, List, Optional, Tuple, Union

MAX_MESSAGE = 4096
MAX_CHAIN = 4
# How far down a chain to look for the deciding exception (only MAX_CHAIN items are sent).
_MAX_WALK = 8

USER_ERROR = "USER_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"
INSUFFICIENT_RESOURCES = "INSUFFICIENT_RESOURCES"
EXTERNAL = "EXTERNAL"

# Trino StandardErrorCode values used below (io.trino.spi.StandardErrorCode).
_TRINO: Dict[str, int] = {
    "GENERIC_USER_ERROR": 0, "SYNTAX_ERROR": 1, "USER_CANCELED": 3, "PERMISSION_DENIED": 4, "NOT_FOUND": 5,
    "FUNCTION_NOT_FOUND": 6, "INVALID_FUNCTION_ARGUMENT": 7, "DIVISION_BY_ZERO": 8, "INVALID_CAST_ARGUMENT": 9,
    "INVALID_VIEW": 11, "ALREADY_EXISTS": 12, "NOT_SUPPORTED": 13, "CONSTRAINT_VIOLATION": 16,
    "TRANSACTION_CONFLICT": 17, "NUMERIC_VALUE_OUT_OF_RANGE": 19, "TRANSACTION_ALREADY_ABORTED": 22,
    "READ_ONLY_VIOLATION": 23, "SUBQUERY_MULTIPLE_ROWS": 28, "AMBIGUOUS_FUNCTION_CALL": 32, "CATALOG_NOT_FOUND": 44,
    "SCHEMA_NOT_FOUND": 45, "TABLE_NOT_FOUND": 46, "COLUMN_NOT_FOUND": 47, "SCHEMA_ALREADY_EXISTS": 49,
    "TABLE_ALREADY_EXISTS": 50, "COLUMN_ALREADY_EXISTS": 51, "TYPE_MISMATCH": 58, "AMBIGUOUS_NAME": 62,
    "INVALID_COLUMN_REFERENCE": 63, "EXPRESSION_NOT_AGGREGATE": 73, "TOO_MANY_ARGUMENTS": 77,
    "INVALID_PARAMETER_USAGE": 80, "INVALID_RECURSIVE_REFERENCE": 87,
    "GENERIC_INTERNAL_ERROR": 65536,
    "GENERIC_INSUFFICIENT_RESOURCES": 131072, "EXCEEDED_TIME_LIMIT": 131075, "EXCEEDED_LOCAL_MEMORY_LIMIT": 131079,
    "EXCEEDED_SCAN_LIMIT": 131081,
}
_GENERIC_NAME = {
    USER_ERROR: "GENERIC_USER_ERROR",
    INTERNAL_ERROR: "GENERIC_INTERNAL_ERROR",
    INSUFFICIENT_RESOURCES: "GENERIC_INSUFFICIENT_RESOURCES",
}
GENERIC_EXTERNAL_CODE = 196608

ErrorCode = Dict[str, Any]
FailureInfo = Dict[str, Any]


def _code(kind: str, name: Optional[str] = None) -> ErrorCode:
    """A Trino-style errorCode: ``name`` when given, else the generic code of ``kind``."""
    name = name or _GENERIC_NAME[kind]
    return {"type": kind, "code": _TRINO[name], "name": name}


def _external(name: str, code: Optional[int] = None) -> ErrorCode:
    return {"type": EXTERNAL, "code": code if code is not None else GENERIC_EXTERNAL_CODE, "name": name}


# --- PostgreSQL (and standard) SQLSTATE --------------------------------------------------------------------------

_SQLSTATE_NAMES: Dict[str, Tuple[str, str]] = {
    "42601": (USER_ERROR, "SYNTAX_ERROR"), "42501": (USER_ERROR, "PERMISSION_DENIED"),
    "42P01": (USER_ERROR, "TABLE_NOT_FOUND"), "42703": (USER_ERROR, "COLUMN_NOT_FOUND"),
    "42883": (USER_ERROR, "FUNCTION_NOT_FOUND"), "42704": (USER_ERROR, "NOT_FOUND"),
    "42P07": (USER_ERROR, "TABLE_ALREADY_EXISTS"), "42701": (USER_ERROR, "COLUMN_ALREADY_EXISTS"),
    "42P06": (USER_ERROR, "SCHEMA_ALREADY_EXISTS"), "42710": (USER_ERROR, "ALREADY_EXISTS"),
    "42P04": (USER_ERROR, "ALREADY_EXISTS"), "42723": (USER_ERROR, "ALREADY_EXISTS"),
    "42702": (USER_ERROR, "AMBIGUOUS_NAME"), "42725": (USER_ERROR, "AMBIGUOUS_FUNCTION_CALL"),
    "42804": (USER_ERROR, "TYPE_MISMATCH"), "42846": (USER_ERROR, "TYPE_MISMATCH"),
    "42803": (USER_ERROR, "EXPRESSION_NOT_AGGREGATE"), "42P02": (USER_ERROR, "INVALID_PARAMETER_USAGE"),
    "42P10": (USER_ERROR, "INVALID_COLUMN_REFERENCE"), "42P19": (USER_ERROR, "INVALID_RECURSIVE_REFERENCE"),
    "3D000": (USER_ERROR, "CATALOG_NOT_FOUND"), "3F000": (USER_ERROR, "SCHEMA_NOT_FOUND"),
    "0A000": (USER_ERROR, "NOT_SUPPORTED"),
    "22012": (USER_ERROR, "DIVISION_BY_ZERO"), "22003": (USER_ERROR, "NUMERIC_VALUE_OUT_OF_RANGE"),
    "22P02": (USER_ERROR, "INVALID_CAST_ARGUMENT"), "22023": (USER_ERROR, "INVALID_FUNCTION_ARGUMENT"),
    "25P02": (USER_ERROR, "TRANSACTION_ALREADY_ABORTED"), "25006": (USER_ERROR, "READ_ONLY_VIOLATION"),
    "40001": (USER_ERROR, "TRANSACTION_CONFLICT"), "40P01": (USER_ERROR, "TRANSACTION_CONFLICT"),
    "40002": (USER_ERROR, "CONSTRAINT_VIOLATION"), "54023": (USER_ERROR, "TOO_MANY_ARGUMENTS"),
    "53200": (INSUFFICIENT_RESOURCES, "EXCEEDED_LOCAL_MEMORY_LIMIT"),
    "25P03": (INSUFFICIENT_RESOURCES, "EXCEEDED_TIME_LIMIT"),
    "55P03": (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    "72000": (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
}
# SQLSTATE class (first two characters) → type, for codes not named above.
_SQLSTATE_CLASSES: Dict[str, str] = {
    "03": USER_ERROR, "09": USER_ERROR, "0A": USER_ERROR, "0B": USER_ERROR, "0F": USER_ERROR, "0L": USER_ERROR,
    "0P": USER_ERROR, "0Z": USER_ERROR, "20": USER_ERROR, "21": USER_ERROR, "22": USER_ERROR, "23": USER_ERROR,
    "24": USER_ERROR, "25": USER_ERROR, "26": USER_ERROR, "27": USER_ERROR, "28": USER_ERROR, "2B": USER_ERROR,
    "2D": USER_ERROR, "2F": USER_ERROR, "34": USER_ERROR, "38": USER_ERROR, "39": USER_ERROR, "3B": USER_ERROR,
    "3D": USER_ERROR, "3F": USER_ERROR, "40": USER_ERROR, "42": USER_ERROR, "44": USER_ERROR, "54": USER_ERROR,
    "55": USER_ERROR, "P0": USER_ERROR,
    "53": INSUFFICIENT_RESOURCES,
    "08": EXTERNAL, "57": EXTERNAL, "58": EXTERNAL, "HV": EXTERNAL,
    "XX": INTERNAL_ERROR, "F0": INTERNAL_ERROR,
}


def _from_sqlstate(state: str, message: str) -> Optional[ErrorCode]:
    state = state.upper()
    if state == "57014":  # query_canceled: a statement timeout or a cancel by the user share the code
        lowered = message.lower()
        if "timeout" in lowered:
            return _code(INSUFFICIENT_RESOURCES, "EXCEEDED_TIME_LIMIT")
        return _code(USER_ERROR, "USER_CANCELED")
    if state == "21000" and "more than one row" in message.lower():  # cardinality_violation holds other cases
        return _code(USER_ERROR, "SUBQUERY_MULTIPLE_ROWS")
    named = _SQLSTATE_NAMES.get(state)
    if named is not None:
        return _code(*named)
    kind = _SQLSTATE_CLASSES.get(state[:2])
    if kind is None:
        return None
    if kind == EXTERNAL:
        return _external("SQLSTATE_" + state)
    if state[:2] == "23":
        return _code(USER_ERROR, "CONSTRAINT_VIOLATION")
    return _code(kind)


# --- MySQL / MariaDB errno ---------------------------------------------------------------------------------------

_MYSQL: Dict[int, Tuple[str, str]] = {
    1064: (USER_ERROR, "SYNTAX_ERROR"), 1149: (USER_ERROR, "SYNTAX_ERROR"),
    1146: (USER_ERROR, "TABLE_NOT_FOUND"), 1051: (USER_ERROR, "TABLE_NOT_FOUND"), 1109: (USER_ERROR, "TABLE_NOT_FOUND"),
    1054: (USER_ERROR, "COLUMN_NOT_FOUND"), 1049: (USER_ERROR, "SCHEMA_NOT_FOUND"),
    1044: (USER_ERROR, "PERMISSION_DENIED"), 1045: (USER_ERROR, "PERMISSION_DENIED"),
    1142: (USER_ERROR, "PERMISSION_DENIED"), 1143: (USER_ERROR, "PERMISSION_DENIED"),
    1227: (USER_ERROR, "PERMISSION_DENIED"), 1370: (USER_ERROR, "PERMISSION_DENIED"),
    1062: (USER_ERROR, "CONSTRAINT_VIOLATION"), 1586: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    1022: (USER_ERROR, "CONSTRAINT_VIOLATION"), 1048: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    1216: (USER_ERROR, "CONSTRAINT_VIOLATION"), 1217: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    1451: (USER_ERROR, "CONSTRAINT_VIOLATION"), 1452: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    1557: (USER_ERROR, "CONSTRAINT_VIOLATION"), 3819: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    4025: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    1365: (USER_ERROR, "DIVISION_BY_ZERO"), 1264: (USER_ERROR, "NUMERIC_VALUE_OUT_OF_RANGE"),
    1050: (USER_ERROR, "TABLE_ALREADY_EXISTS"), 1060: (USER_ERROR, "COLUMN_ALREADY_EXISTS"),
    1007: (USER_ERROR, "SCHEMA_ALREADY_EXISTS"), 1305: (USER_ERROR, "FUNCTION_NOT_FOUND"),
    1630: (USER_ERROR, "FUNCTION_NOT_FOUND"), 1052: (USER_ERROR, "AMBIGUOUS_NAME"),
    1242: (USER_ERROR, "SUBQUERY_MULTIPLE_ROWS"), 1235: (USER_ERROR, "NOT_SUPPORTED"),
    1356: (USER_ERROR, "INVALID_VIEW"), 1290: (USER_ERROR, "READ_ONLY_VIOLATION"),
    1792: (USER_ERROR, "READ_ONLY_VIOLATION"), 1213: (USER_ERROR, "TRANSACTION_CONFLICT"),
    1317: (USER_ERROR, "USER_CANCELED"), 1364: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    1175: (USER_ERROR, "GENERIC_USER_ERROR"), 1644: (USER_ERROR, "GENERIC_USER_ERROR"),
    1099: (USER_ERROR, "GENERIC_USER_ERROR"), 1100: (USER_ERROR, "GENERIC_USER_ERROR"),
    1396: (USER_ERROR, "GENERIC_USER_ERROR"), 1241: (USER_ERROR, "GENERIC_USER_ERROR"),
    1222: (USER_ERROR, "GENERIC_USER_ERROR"),
    1205: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    1969: (INSUFFICIENT_RESOURCES, "EXCEEDED_TIME_LIMIT"), 3024: (INSUFFICIENT_RESOURCES, "EXCEEDED_TIME_LIMIT"),
    1037: (INSUFFICIENT_RESOURCES, "EXCEEDED_LOCAL_MEMORY_LIMIT"),
    1038: (INSUFFICIENT_RESOURCES, "EXCEEDED_LOCAL_MEMORY_LIMIT"),
    1041: (INSUFFICIENT_RESOURCES, "EXCEEDED_LOCAL_MEMORY_LIMIT"),
    1040: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    1203: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    1226: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    1114: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    1021: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    1104: (INSUFFICIENT_RESOURCES, "EXCEEDED_SCAN_LIMIT"),
}
# Server shutdown, killed or broken connections (server side) → EXTERNAL, like the client's 2002–2013.
_MYSQL_EXTERNAL = frozenset((1053, 1077, 1152, 1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161, 1927, 4031))
_MYSQL_MODULES = frozenset(("pymysql", "MySQLdb", "mysql", "asyncmy", "aiomysql", "mariadb"))


def _from_mysql(number: int, state: Optional[str], message: str) -> Optional[ErrorCode]:
    named = _MYSQL.get(number)
    if named is not None:
        return _code(*named)
    if number in _MYSQL_EXTERNAL or 2002 <= number <= 2013:
        return _external("MYSQL_%d" % number, number)
    if state and len(state) == 5 and state.upper() != "HY000":
        return _from_sqlstate(state, message)
    if 1000 <= number < 2000 or 3000 <= number < 5000:
        # A server error with no more telling SQLSTATE: the server read the statement and refused it, which
        # PyMySQL's OperationalError (EXTERNAL by class) would misreport.
        return _code(USER_ERROR)
    return None


# --- SQLite result codes -----------------------------------------------------------------------------------------

_SQLITE: Dict[int, Optional[Tuple[str, str]]] = {
    2: (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"), 3: (USER_ERROR, "PERMISSION_DENIED"),
    4: (USER_ERROR, "GENERIC_USER_ERROR"), 5: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    6: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    7: (INSUFFICIENT_RESOURCES, "EXCEEDED_LOCAL_MEMORY_LIMIT"), 8: (USER_ERROR, "READ_ONLY_VIOLATION"),
    9: (USER_ERROR, "USER_CANCELED"), 10: None, 11: (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"),
    12: (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"), 13: (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    14: None, 15: None, 16: (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"), 17: (USER_ERROR, "GENERIC_USER_ERROR"),
    18: (USER_ERROR, "GENERIC_USER_ERROR"), 19: (USER_ERROR, "CONSTRAINT_VIOLATION"),
    20: (USER_ERROR, "TYPE_MISMATCH"), 21: (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"), 22: None,
    23: (USER_ERROR, "PERMISSION_DENIED"), 24: (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"),
    25: (USER_ERROR, "INVALID_PARAMETER_USAGE"), 26: None,
}  # None: I/O, cannot open, locking protocol, no LFS, not a database → EXTERNAL under SQLite's own name
_SQLITE_MESSAGES: Tuple[Tuple[str, str, str], ...] = (
    ("no such table", USER_ERROR, "TABLE_NOT_FOUND"), ("no such column", USER_ERROR, "COLUMN_NOT_FOUND"),
    ("syntax error", USER_ERROR, "SYNTAX_ERROR"), ("incomplete input", USER_ERROR, "SYNTAX_ERROR"),
    ("no such function", USER_ERROR, "FUNCTION_NOT_FOUND"), ("already exists", USER_ERROR, "ALREADY_EXISTS"),
    ("ambiguous column", USER_ERROR, "AMBIGUOUS_NAME"), ("constraint failed", USER_ERROR, "CONSTRAINT_VIOLATION"),
    ("database is locked", INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    ("interrupted", USER_ERROR, "USER_CANCELED"),
)


def _from_sqlite(code: Optional[int], name: Optional[str], message: str) -> Optional[ErrorCode]:
    lowered = message.lower()
    primary = code & 0xFF if code is not None else None
    if primary is None or primary == 1:  # SQLITE_ERROR, or an old Python without the code: read the message
        for needle, kind, trino_name in _SQLITE_MESSAGES:
            if needle in lowered:
                return _code(kind, trino_name)
        if primary is None:
            if "disk i/o error" in lowered or "unable to open" in lowered:
                return _external("SQLITE_IOERR")
            return None
        return _code(USER_ERROR)
    if primary not in _SQLITE:
        return None
    named = _SQLITE[primary]
    if named is None:
        return _external(name or "SQLITE_%s" % code, code)
    return _code(*named)


# --- DuckDB exception classes ------------------------------------------------------------------------------------

_DUCKDB: Dict[str, Optional[Tuple[str, str]]] = {
    "ParserException": (USER_ERROR, "SYNTAX_ERROR"), "SyntaxException": (USER_ERROR, "SYNTAX_ERROR"),
    "BinderException": (USER_ERROR, "GENERIC_USER_ERROR"), "CatalogException": (USER_ERROR, "GENERIC_USER_ERROR"),
    "ConstraintException": (USER_ERROR, "CONSTRAINT_VIOLATION"),
    "ConversionException": (USER_ERROR, "INVALID_CAST_ARGUMENT"),
    "OutOfRangeException": (USER_ERROR, "NUMERIC_VALUE_OUT_OF_RANGE"),
    "TypeMismatchException": (USER_ERROR, "TYPE_MISMATCH"), "InvalidTypeException": (USER_ERROR, "TYPE_MISMATCH"),
    "InvalidInputException": (USER_ERROR, "GENERIC_USER_ERROR"),
    "NotImplementedException": (USER_ERROR, "NOT_SUPPORTED"), "PermissionException": (USER_ERROR, "PERMISSION_DENIED"),
    "TransactionException": (USER_ERROR, "GENERIC_USER_ERROR"), "InterruptException": (USER_ERROR, "USER_CANCELED"),
    "SequenceException": (USER_ERROR, "GENERIC_USER_ERROR"), "DependencyException": (USER_ERROR, "GENERIC_USER_ERROR"),
    "OutOfMemoryException": (INSUFFICIENT_RESOURCES, "EXCEEDED_LOCAL_MEMORY_LIMIT"),
    "ResourceInUseException": (INSUFFICIENT_RESOURCES, "GENERIC_INSUFFICIENT_RESOURCES"),
    "InternalException": (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"),
    "FatalException": (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"),
    "SerializationException": (INTERNAL_ERROR, "GENERIC_INTERNAL_ERROR"),
    "IOException": None, "HTTPException": None, "ConnectionException": None,
}  # None → EXTERNAL named DUCKDB_<Class>


def _from_duckdb(cls_name: str, message: str) -> Optional[ErrorCode]:
    if cls_name not in _DUCKDB:
        return None
    named = _DUCKDB[cls_name]
    if named is None:
        return _external("DUCKDB_" + cls_name)
    if cls_name in ("CatalogException", "BinderException"):
        lowered = message.lower()
        if "table with name" in lowered and "does not exist" in lowered:
            return _code(USER_ERROR, "TABLE_NOT_FOUND")
        if "referenced column" in lowered and "not found" in lowered:
            return _code(USER_ERROR, "COLUMN_NOT_FOUND")
        if "already exists" in lowered:
            return _code(USER_ERROR, "ALREADY_EXISTS")
        if "function with name" in lowered and "does not exist" in lowered:
            return _code(USER_ERROR, "FUNCTION_NOT_FOUND")
    elif cls_name in ("InvalidInputException", "TransactionException"):
        for needle, name in _DUCKDB_MESSAGES:
            if needle in message.lower():
                return _code(USER_ERROR, name)
    return _code(*named)


_DUCKDB_MESSAGES = (("division by zero", "DIVISION_BY_ZERO"), ("read-only mode", "READ_ONLY_VIOLATION"),
                    ("conflict", "TRANSACTION_CONFLICT"))


# --- PEP 249 classes and builtins ---------------------------------------------------------------------------------

_PEP249: Dict[str, str] = {
    "ProgrammingError": USER_ERROR, "IntegrityError": USER_ERROR, "DataError": USER_ERROR,
    "NotSupportedError": USER_ERROR, "InterfaceError": USER_ERROR, "InternalError": INTERNAL_ERROR,
    "OperationalError": EXTERNAL,
}
_PEP249_NAMES = {"IntegrityError": "CONSTRAINT_VIOLATION", "NotSupportedError": "NOT_SUPPORTED"}


def _from_builtin(exc: BaseException) -> Optional[ErrorCode]:
    if isinstance(exc, MemoryError):
        return _code(INSUFFICIENT_RESOURCES, "EXCEEDED_LOCAL_MEMORY_LIMIT")
    if isinstance(exc, KeyboardInterrupt):
        return _code(USER_ERROR, "USER_CANCELED")
    if isinstance(exc, OSError):  # TimeoutError and ConnectionError are OSErrors
        number = _attr(exc, "errno")
        if isinstance(number, int) and number in errno_module.errorcode:
            return _external(errno_module.errorcode[number], number)
        return _external("TIMEOUT" if isinstance(exc, TimeoutError) else "GENERIC_EXTERNAL")
    if type(exc).__name__ == "CancelledError":  # asyncio / concurrent.futures: the caller gave up
        return _code(USER_ERROR, "USER_CANCELED")
    return None


# --- resolution ---------------------------------------------------------------------------------------------------


def _attr(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _top_module(cls: type) -> str:
    module = _attr(cls, "__module__")
    return module.split(".", 1)[0] if isinstance(module, str) else ""


def _trino(exc: BaseException, message: str) -> Optional[ErrorCode]:
    error = _attr(exc, "_error")
    if isinstance(error, dict):
        kind = error.get("errorType")
        if kind in (USER_ERROR, INTERNAL_ERROR, INSUFFICIENT_RESOURCES, EXTERNAL):
            found: ErrorCode = {"type": kind}
            code = error.get("errorCode")
            if isinstance(code, int) and not isinstance(code, bool):
                found["code"] = code
            name = error.get("errorName")
            if isinstance(name, str):
                found["name"] = name
            return found
        return None
    if isinstance(error, str) and "cancel" in error.lower():  # the client's own cancel: TrinoUserError("… cancelled")
        return _code(USER_ERROR, "USER_CANCELED")
    if any(_attr(base, "__name__") == "HttpError" for base in _attr(type(exc), "__mro__") or ()):
        return _external("TRINO_HTTP_ERROR")  # the coordinator answered 5xx or another non-protocol status
    return None


def _resolve(exc: BaseException, message: str) -> Tuple[int, Optional[ErrorCode]]:
    """(rank, errorCode) of one exception: rank 1 engine, 2 driver code, 3 PEP 249 class, 4 builtin, 5 nothing."""
    cls = type(exc)
    top = _top_module(cls)
    if top == "trino":
        found = _trino(exc, message)
        if found is not None:
            return 1, found
    state = _attr(exc, "sqlstate")
    if not isinstance(state, str) or len(state) != 5:
        state = _attr(exc, "pgcode")
    if top == "pg8000":  # pg8000 puts the server's error fields in args[0]: {"C": sqlstate, "M": message, …}
        args = _attr(exc, "args")
        if isinstance(args, tuple) and args and isinstance(args[0], dict):
            state = args[0].get("C")
    if top in _MYSQL_MODULES:
        args = _attr(exc, "args")
        number = _attr(exc, "errno")
        if not isinstance(number, int) and isinstance(args, tuple) and args:
            number = args[0]
        if isinstance(number, int) and not isinstance(number, bool):
            found = _from_mysql(number, state if isinstance(state, str) else None, message)
            if found is not None:
                return 2, found
    elif isinstance(state, str) and len(state) == 5:
        found = _from_sqlstate(state, message)
        if found is not None:
            return 2, found
    if top == "sqlite3" or top == "_sqlite3" or top == "aiosqlite":
        code = _attr(exc, "sqlite_errorcode")
        name = _attr(exc, "sqlite_errorname")
        found = _from_sqlite(code if isinstance(code, int) else None, name if isinstance(name, str) else None,
                             message)
        if found is not None:
            return 2, found
    if top == "duckdb" or top == "_duckdb":
        found = _from_duckdb(_attr(cls, "__name__") or "", message)
        if found is not None:
            return 2, found
    for base in _attr(cls, "__mro__") or ():
        kind = _PEP249.get(_attr(base, "__name__") or "")
        if kind is not None:
            name = _PEP249_NAMES.get(base.__name__)
            return 3, (_code(kind, name) if kind != EXTERNAL else _external("GENERIC_EXTERNAL"))
    found = _from_builtin(exc)
    if found is not None:
        return 4, found
    return 5, None


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # whatever a hostile __str__ raises, KeyboardInterrupt included, stays here
        error = _attr(exc, "_error")  # Trino's client exceptions whose error is not a dict cannot str() themselves
        if isinstance(error, str):
            text = error
        else:
            try:
                text = "; ".join(str(arg)[:MAX_MESSAGE] for arg in exc.args)
            except BaseException:
                text = ""
        if not text:
            text = "<unprintable %s>" % _type_name(exc)
    if not isinstance(text, str):
        text = "<unprintable %s>" % _type_name(exc)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (e.g. from surrogateescape) are not valid JSON text
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _type_name(exc: BaseException) -> str:
    try:
        cls = type(exc)
        return "%s.%s" % (cls.__module__, cls.__qualname__)
    except Exception:
        return "builtins.BaseException"


def _next_in_chain(exc: BaseException) -> Optional[BaseException]:
    """The exception ``exc`` wraps: SQLAlchemy's ``DBAPIError.orig``, or ``raise … from``'s cause (SPEC §3). Not
    the implicit ``__context__``: an exception being handled when this one was raised (a retry inside ``except``)
    is another failure, and must not decide this one's type."""
    orig = _attr(exc, "orig")  # SQLAlchemy's DBAPIError
    if isinstance(orig, BaseException):
        return orig
    cause = _attr(exc, "__cause__")
    return cause if isinstance(cause, BaseException) else None


def _chain(exc: BaseException) -> List[BaseException]:
    chain: List[BaseException] = []
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen and len(chain) < _MAX_WALK:
        seen.add(id(current))
        chain.append(current)
        current = _next_in_chain(current)
    return chain


def _describe(exc: BaseException) -> Union[FailureInfo, List[FailureInfo]]:
    chain = _chain(exc)
    messages = [_message(item) for item in chain]
    best_rank, best_code, best_index = 6, None, 0
    for index, item in enumerate(chain):
        rank, found = _resolve(item, messages[index])
        if rank < best_rank:
            best_rank, best_code, best_index = rank, found, index
    error_code = best_code if best_code is not None else _code(INTERNAL_ERROR)
    indexes = list(range(min(len(chain), MAX_CHAIN)))
    if best_index >= MAX_CHAIN:  # keep the deciding exception in what is sent
        indexes[-1] = best_index
    items = [
        {"errorCode": dict(error_code), "failureMessage": messages[i], "failureType": _type_name(chain[i])}
        for i in indexes
    ]
    return items[0] if len(items) == 1 else items


def describe_failure(exc: BaseException) -> Union[FailureInfo, List[FailureInfo]]:
    """Describe ``exc`` as a SPEC §1.1 ``failureInfo``: an object, or an array (outermost first) for a chain.

    Never raises: whatever ``exc`` does, the result is valid.
    """
    try:
        return _describe(exc)
    except Exception:
        return {"errorCode": _code(INTERNAL_ERROR), "failureType": _type_name(exc)}
