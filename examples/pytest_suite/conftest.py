"""Fixtures: a fresh in-memory database with 20 customers and one order each (statements of the setup phase)."""

from __future__ import annotations

from typing import Iterator

import pytest
from app import Base, Customer, Order
from sqlalchemy import create_engine
from sqlalchemy.orm import Session


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(Customer(id=i, name="customer %d" % i) for i in range(1, 21))
        session.add_all(Order(id=i, customer_id=i, total=10.0 * i) for i in range(1, 21))
        session.commit()
        yield session
    engine.dispose()
