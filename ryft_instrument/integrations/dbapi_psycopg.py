"""psycopg 3: wrapt proxies for ``Connection``/``Cursor`` and, with async wrappers that time the ``await``
(PRIOR_ART 13), ``AsyncConnection``/``AsyncCursor``. Recorded: ``conn.execute``, ``cursor.execute``,
``executemany``, ``copy`` (the block, from the COPY statement to the end of the data) and ``stream`` (from the
call to the last row the caller takes). Entry points: ``psycopg.connect``, ``Connection.connect``,
``AsyncConnection.connect``."""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from time import perf_counter
from typing import Any, AsyncIterator, Callable, Iterator, Optional

import psycopg

from ..context import user_agent
from .dbapi import (
    ConnectionProxy,
    CursorProxy,
    Site,
    connect_wrapper,
    patch_function,
    postgres_context,
    query_text,
    recorder_for,
    unpatch_function,
)

_AGENT = user_agent([("psycopg", psycopg.__version__)])


def _context(connection: Any) -> dict[str, str]:
    info = connection.info
    return postgres_context(info, info.get_parameters().get("options"), _AGENT)


def _finish(site: Site, query: Any, start: float, exc: Optional[BaseException]) -> None:
    site[1](site[0], query_text(query, site[3]), start, perf_counter() - start, exc, None, site[2])


async def _awaited(site: Site, method: Any, query: Any, args: Any, kwargs: Any) -> Any:
    """``await method(query, *args, **kwargs)``, timed across the await (PRIOR_ART 13) and recorded."""
    start = perf_counter()
    try:
        result = await method(query, *args, **kwargs)
    except BaseException as exc:
        _finish(site, query, start, exc)
        raise
    _finish(site, query, start, None)
    return result


class PsycopgCursor(CursorProxy):
    @contextmanager
    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        site, start = self._self_site, perf_counter()
        try:
            with self.__wrapped__.copy(statement, *args, **kwargs) as copy:
                yield copy
        except BaseException as exc:
            _finish(site, statement, start, exc)
            raise
        _finish(site, statement, start, None)

    def stream(self, query: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        site, start = self._self_site, perf_counter()
        try:
            yield from self.__wrapped__.stream(query, *args, **kwargs)
        except GeneratorExit:
            _finish(site, query, start, None)  # the caller stopped early: the statement itself succeeded
            raise
        except BaseException as exc:
            _finish(site, query, start, exc)
            raise
        _finish(site, query, start, None)


class PsycopgConnection(ConnectionProxy):
    cursor_type = PsycopgCursor
    _self_cursor_base = (psycopg.Cursor,)

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_statement(self.__wrapped__.execute, query, args, kwargs)


class AsyncPsycopgCursor(CursorProxy):
    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        cursor = self.__wrapped__
        result = await _awaited(self._self_site, cursor.execute, query, args, kwargs)
        return self if result is cursor else result

    async def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return await _awaited(self._self_site, self.__wrapped__.executemany, query, args, kwargs)

    @asynccontextmanager
    async def copy(self, statement: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        site, start = self._self_site, perf_counter()
        try:
            async with self.__wrapped__.copy(statement, *args, **kwargs) as copy:
                yield copy
        except BaseException as exc:
            _finish(site, statement, start, exc)
            raise
        _finish(site, statement, start, None)

    async def stream(self, query: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        site, start = self._self_site, perf_counter()
        try:
            async for row in self.__wrapped__.stream(query, *args, **kwargs):
                yield row
        except GeneratorExit:
            _finish(site, query, start, None)
            raise
        except BaseException as exc:
            _finish(site, query, start, exc)
            raise
        _finish(site, query, start, None)

    def __aiter__(self) -> Any:
        return self.__wrapped__.__aiter__()

    async def __aenter__(self) -> Any:
        entered = await self.__wrapped__.__aenter__()
        return self if entered is self.__wrapped__ else entered

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)


class AsyncPsycopgConnection(ConnectionProxy):
    cursor_type = AsyncPsycopgCursor

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        site = self._self_site
        result = await _awaited(site, self.__wrapped__.execute, query, args, kwargs)
        return AsyncPsycopgCursor(result, site) if isinstance(result, psycopg.AsyncCursor) else result

    async def __aenter__(self) -> Any:
        entered = await self.__wrapped__.__aenter__()
        return self if entered is self.__wrapped__ else entered

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)


def wrap(connection: Any, tags: Optional[list[str]]) -> Any:
    proxy = AsyncPsycopgConnection if isinstance(connection, psycopg.AsyncConnection) else PsycopgConnection
    return proxy(connection, _context(connection), recorder_for(tags))


def _async_connect(connect: Callable[..., Any]) -> Callable[..., Any]:
    async def connect_instrumented(*args: Any, **kwargs: Any) -> Any:
        return wrap(await connect(*args, **kwargs), None)

    return connect_instrumented


def patch(module: Any) -> None:
    patch_function(psycopg, "connect", connect_wrapper(wrap))
    patch_function(psycopg.Connection, "connect", connect_wrapper(wrap))
    patch_function(psycopg.AsyncConnection, "connect", _async_connect)


def unpatch(module: Any) -> None:
    unpatch_function(psycopg, "connect")
    unpatch_function(psycopg.Connection, "connect")
    unpatch_function(psycopg.AsyncConnection, "connect")

