"""A tiny order-tracking app on SQLAlchemy's ORM, with the classic N+1 in ``order_report``."""

from __future__ import annotations

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, joinedload, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    total: Mapped[float]
    customer: Mapped[Customer] = relationship()


def order_report(session: Session) -> list[tuple[int, str, float]]:
    """Every order with its customer's name: one query for the orders, then one per order for its customer."""
    orders = session.scalars(select(Order).order_by(Order.id))
    return [(order.id, order.customer.name, order.total) for order in orders]


def order_report_fast(session: Session) -> list[tuple[int, str, float]]:
    """The same report in one query: the customers are joined in."""
    orders = session.scalars(select(Order).options(joinedload(Order.customer)).order_by(Order.id))
    return [(order.id, order.customer.name, order.total) for order in orders]
