"""Run with ``pytest`` here: ``pytest.ini`` turns ``--ryft`` on (in warn mode, so the N+1 below is reported, not
failed). ``pytest --ryft-mode=fail`` makes the budget breach fail the test."""

from __future__ import annotations

import pytest
from app import order_report, order_report_fast
from sqlalchemy import text
from sqlalchemy.exc import OperationalError


@pytest.mark.ryft(max_queries=5)
def test_order_report(session):
    assert len(order_report(session)) == 20


def test_order_report_fast(session, ryft_assert_queries):
    with ryft_assert_queries(max=1):
        assert len(order_report_fast(session)) == 20


def test_queries_fixture(session, ryft_queries):
    order_report(session)
    (n_plus_one,) = ryft_queries.similar()
    assert n_plus_one.count == 20
    assert ryft_queries.by_type() == {"SELECT": 21}


def test_refund_in_a_savepoint(session):
    with session.begin_nested():
        session.execute(text("UPDATE orders SET total = 0 WHERE id = :id"), {"id": 1})


def test_typo_is_reported(session):
    with pytest.raises(OperationalError):
        session.execute(text("SELECT totl FROM orders"))
