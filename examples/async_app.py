"""An asyncio application on SQLAlchemy's AsyncEngine: ``instrument()`` accepts an AsyncEngine as it is.

    RYFT_OUTPUT=queries.jsonl python examples/async_app.py
    RYFT_INGEST_TOKEN=... python examples/async_app.py postgresql+asyncpg://user@host/db

Tags set with ``ryft_instrument.tags()`` follow each task: concurrent tasks never mix their tags.
"""

from __future__ import annotations

import asyncio
import sys

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import ryft_instrument

metadata = sa.MetaData()
order = sa.Table("ryft_async_order", metadata,
                 sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("customer", sa.Integer, nullable=False),
                 sa.Column("total", sa.Numeric(10, 2), nullable=False))


async def handle(engine: AsyncEngine, customer: int) -> float:
    """One unit of work, as a request handler or a job would do it."""
    with ryft_instrument.tags("customer:%d" % customer):
        async with engine.begin() as conn:
            await conn.execute(order.insert(), [{"customer": customer, "total": 10 * customer + n} for n in range(3)])
            result = await conn.execute(sa.select(sa.func.sum(order.c.total)).where(order.c.customer == customer))
            return float(result.scalar_one())


async def main(url: str) -> None:
    engine = ryft_instrument.instrument(create_async_engine(url))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    totals = await asyncio.gather(*(handle(engine, customer) for customer in range(1, 6)))
    print("totals: %s" % totals)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()
    print("delivered: %s" % ryft_instrument.flush(timeout=5.0))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite+aiosqlite:///:memory:"))
