"""The order state machine, transition by transition, then over random sequences of venue updates."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.orders.machine import (
    Change, ExecutionType, Fill, Order, OrderStatus, UpdateRefused, VenueUpdate, apply,
)

X = ExecutionType
S = OrderStatus
OPEN = (S.NEW, S.PARTIALLY_FILLED)
FINAL = (S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED)


def order(**fields: object) -> Order:
    base = dict(intent_id="sig-42", client_order_id="ex-42", symbol="BTCUSDT", side="BUY", order_type="LIMIT",
                quantity=D("1.0"), price=D("100"))
    return Order(**{**base, **fields})  # type: ignore[arg-type]


def trade(trade_id: str, quantity: str, price: str = "100", fee: str = "0") -> VenueUpdate:
    return VenueUpdate(X.TRADE, S.PARTIALLY_FILLED, fill=Fill(trade_id, D(quantity), D(price), D(fee), "USDT"))


def end(kind: ExecutionType, executed: str | None = None) -> VenueUpdate:
    return VenueUpdate(kind, S(kind.value), executed_qty=D(executed) if executed is not None else None,
                       reason="KILL_SWITCH")


def changed(before: Order, update: VenueUpdate) -> Change:
    change = apply(before, update)
    assert change is not None
    assert change.before is before and change.update is update
    assert change.after.seq == before.seq + 1
    return change


# -- fills ----------------------------------------------------------------------------------------
# -- fills reported through two channels (polling, a cancel's answer, a stream) ------------------
def cumulative_trade(trade_id: str, quantity: str, executed: str, fee: str = "0") -> VenueUpdate:
    return replace(trade(trade_id, quantity, fee=fee), executed_qty=D(executed))


def test_a_fill_already_booked_under_another_id_books_nothing() -> None:
    polled = changed(order(), cumulative_trade("1000:0.4", "0.4", "0.4"))  # the poll saw executedQty 0.4
    assert apply(polled.after, cumulative_trade("stream-77", "0.4", "0.4")) is None  # the stream's report of it


def test_a_fill_partly_booked_under_another_id_books_only_the_rest() -> None:
    polled = changed(order(), cumulative_trade("1000:0.3", "0.3", "0.3"))
    rest = changed(polled.after, cumulative_trade("stream-78", "0.4", "0.4", fee="0.04"))
    assert rest.fill == Fill("stream-78", D("0.1"), D("100"), D("0.01"), "USDT")
    assert rest.after.executed_qty == D("0.4") and rest.after.status is S.PARTIALLY_FILLED


def test_a_cumulative_quantity_beyond_the_order_is_refused() -> None:
    with pytest.raises(UpdateRefused):
        apply(order(), cumulative_trade("x", "0.5", "1.5"))


def test_new_to_partially_filled_to_filled_by_trades() -> None:
    first = changed(order(), trade("t1", "0.4", "100", "0.02"))
    assert first.after.status is S.PARTIALLY_FILLED and not first.final
    assert (first.after.executed_qty, first.after.remaining, first.after.cum_quote) == (D("0.4"), D("0.6"), D("40"))
    assert first.fill == Fill("t1", D("0.4"), D("100"), D("0.02"), "USDT")
    assert (first.released, first.reserved) == (0, 0)
    assert first.after.trades == {"t1": D("0.4")} and first.after.fee_asset == "USDT"

    second = changed(first.after, trade("t2", "0.6", "90", "0.03"))
    after = second.after
    assert after.status is S.FILLED and second.final and after.remaining == 0
    assert after.avg_price == D("94")  # (0.4 x 100 + 0.6 x 90) / 1.0
    assert after.fee == D("0.05") and after.trades == {"t1": D("0.4"), "t2": D("0.6")}
    assert (second.released, second.reserved) == (0, 0)  # a fill moves reservation to position, nothing else


def test_one_trade_for_the_whole_quantity_fills_a_new_order() -> None:
    change = changed(order(), trade("t1", "1.0"))
    assert change.after.status is S.FILLED and change.after.seq == 2


def test_the_same_trade_id_twice_is_no_change() -> None:
    once = changed(order(), trade("t1", "0.4")).after
    assert apply(once, trade("t1", "0.4")) is None
    assert apply(once, trade("t1", "0.3", "99")) is None  # the id decides, not the numbers


@pytest.mark.parametrize("quantity,price", [("1.1", "100"), ("0", "100"), ("-0.1", "100"), ("0.1", "0"),
                                            ("0.1", "-5")])
def test_over_zero_or_negative_fills_are_refused(quantity: str, price: str) -> None:
    with pytest.raises(UpdateRefused):
        apply(order(), trade("t1", quantity, price))


def test_a_fill_over_the_remainder_of_a_partially_filled_order_is_refused() -> None:
    partial = changed(order(), trade("t1", "0.7")).after
    with pytest.raises(UpdateRefused, match="more than the 0.3 left"):
        apply(partial, trade("t2", "0.4"))


def test_a_trade_without_its_fill_is_refused() -> None:
    with pytest.raises(UpdateRefused):
        apply(order(), VenueUpdate(X.TRADE, S.FILLED))


# -- ends -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [X.CANCELED, X.EXPIRED, X.REJECTED])
@pytest.mark.parametrize("filled", ["0", "0.25"])
def test_an_open_order_ends_releasing_its_remainder(kind: ExecutionType, filled: str) -> None:
    before = order() if filled == "0" else changed(order(), trade("t1", filled)).after
    change = changed(before, end(kind))
    assert change.after.status is S(kind.value) and change.final
    assert change.released == D("1.0") - D(filled) and change.fill is None and change.reserved == 0
    assert change.after.executed_qty == D(filled)  # what filled stays filled


@pytest.mark.parametrize("status", FINAL)
@pytest.mark.parametrize("update", [trade("t9", "0.1"), end(X.CANCELED), end(X.EXPIRED), end(X.REJECTED),
                                    VenueUpdate(X.AMENDED, S.NEW, price=D("99")),
                                    VenueUpdate(X.NEW, S.NEW, exchange_order_id="77")])
def test_a_final_order_takes_no_change(status: OrderStatus, update: VenueUpdate) -> None:
    assert apply(order(status=status, seq=5), update) is None


def test_an_end_that_does_not_end_is_refused() -> None:
    with pytest.raises(UpdateRefused):
        apply(order(), VenueUpdate(X.CANCELED, S.NEW))


def test_a_cancel_the_fill_won_books_the_difference_and_ends_filled() -> None:
    """The venue answers the cancel with everything executed: nothing was left to cancel."""
    partial = changed(order(), trade("t1", "0.4", "100")).after
    change = changed(partial, end(X.CANCELED, executed="1.0"))
    after = change.after
    assert after.status is S.FILLED and change.final and after.remaining == 0
    assert change.fill is not None and change.fill.quantity == D("0.6") and change.fill.price == D("100")
    assert change.fill.trade_id == "canceled-3" and after.trades[change.fill.trade_id] == D("0.6")
    assert change.released == 0


def test_a_cancel_that_raced_a_partial_fill_books_it_and_releases_the_rest() -> None:
    change = changed(order(), end(X.CANCELED, executed="0.3"))
    assert change.after.status is S.CANCELED
    assert change.fill is not None and change.fill.quantity == D("0.3")
    assert change.after.executed_qty == D("0.3") and change.released == D("0.7")


def test_a_venue_executed_quantity_below_what_was_booked_moves_nothing_back() -> None:
    partial = changed(order(), trade("t1", "0.4")).after
    change = changed(partial, end(X.EXPIRED, executed="0.1"))
    assert change.fill is None and change.after.executed_qty == D("0.4") and change.released == D("0.6")


def test_a_venue_executed_quantity_over_the_order_is_refused() -> None:
    with pytest.raises(UpdateRefused):
        apply(order(), end(X.CANCELED, executed="1.5"))


# -- amend ----------------------------------------------------------------------------------------
def amend(price: str | None = None, quantity: str | None = None) -> VenueUpdate:
    return VenueUpdate(X.AMENDED, S.PARTIALLY_FILLED, price=D(price) if price else None,
                       quantity=D(quantity) if quantity else None, reason="AMEND_INTENT", cause_intent_id="a-1")


def test_amending_a_partially_filled_order_up_reserves_the_difference() -> None:
    partial = changed(order(), trade("t1", "0.4")).after
    change = changed(partial, amend(quantity="1.5"))
    assert change.after.quantity == D("1.5") and change.after.remaining == D("1.1")
    assert change.after.status is S.PARTIALLY_FILLED and change.after.executed_qty == D("0.4")
    assert (change.reserved, change.released) == (D("0.5"), 0)


def test_amending_a_partially_filled_order_down_releases_the_difference() -> None:
    partial = changed(order(), trade("t1", "0.4")).after
    change = changed(partial, amend(quantity="0.5"))
    assert change.after.remaining == D("0.1") and change.after.status is S.PARTIALLY_FILLED
    assert (change.reserved, change.released) == (0, D("0.5"))


@pytest.mark.parametrize("quantity", ["0.4", "0.3"])
def test_amending_to_no_more_than_filled_is_refused(quantity: str) -> None:
    partial = changed(order(), trade("t1", "0.4")).after
    with pytest.raises(UpdateRefused, match="not above"):
        apply(partial, amend(quantity=quantity))


def test_amending_the_price_keeps_the_quantity_and_reservation() -> None:
    change = changed(order(), amend(price="95"))
    assert change.after.price == D("95") and change.after.quantity == D("1.0") and change.after.status is S.NEW
    assert (change.reserved, change.released) == (0, 0)


@pytest.mark.parametrize("price", ["0", "-1"])
def test_amending_to_a_price_that_cannot_be_is_refused(price: str) -> None:
    with pytest.raises(UpdateRefused):
        apply(order(), VenueUpdate(X.AMENDED, S.NEW, price=D(price)))


# -- acknowledgement ------------------------------------------------------------------------------
def test_an_acknowledgement_that_brings_the_exchange_order_id_is_a_change() -> None:
    change = changed(order(), VenueUpdate(X.NEW, S.NEW, exchange_order_id="123"))
    assert change.after.exchange_order_id == "123" and change.after.status is S.NEW
    assert (change.fill, change.released, change.reserved) == (None, 0, 0)


def test_an_acknowledgement_without_news_is_no_change() -> None:
    assert apply(order(), VenueUpdate(X.NEW, S.NEW)) is None
    assert apply(order(exchange_order_id="123"), VenueUpdate(X.NEW, S.NEW, exchange_order_id="123")) is None


def test_any_update_may_bring_the_exchange_order_id_and_none_takes_it_away() -> None:
    with_id = changed(order(), replace(trade("t1", "0.1"), exchange_order_id="9")).after
    assert with_id.exchange_order_id == "9"
    assert changed(with_id, trade("t2", "0.1")).after.exchange_order_id == "9"


# -- random sequences -----------------------------------------------------------------------------
QTY = st.decimals(min_value=D("-0.2"), max_value=D("1.2"), places=2)
UPDATES = st.one_of(
    st.builds(lambda t, q, p: trade(f"t{t}", str(q), str(p)), st.integers(0, 6), QTY,
              st.decimals(min_value=D("-1"), max_value=D("200"), places=1)),
    st.builds(lambda k, e: end(k, None if e is None else str(e)), st.sampled_from([X.CANCELED, X.EXPIRED, X.REJECTED]),
              st.none() | QTY),
    st.builds(lambda p, q: amend(None if p is None else str(p), None if q is None else str(q)),
              st.none() | st.decimals(min_value=D("1"), max_value=D("200"), places=1), st.none() | QTY),
    st.builds(lambda i: VenueUpdate(X.NEW, S.NEW, exchange_order_id=i), st.none() | st.sampled_from(["1", "2"])),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(UPDATES, max_size=25))
def test_any_sequence_of_updates_keeps_the_invariants(updates: list[VenueUpdate]) -> None:
    current = order()
    booked = D(0)
    for update in updates:
        try:
            change = apply(current, update)
        except UpdateRefused:
            continue
        if change is None:
            continue
        before, after = change.before, change.after
        assert after.seq == before.seq + 1
        assert after.executed_qty >= before.executed_qty and after.fee >= before.fee
        assert after.cum_quote >= before.cum_quote
        assert 0 <= after.executed_qty <= after.quantity
        assert not before.status.final
        filled = change.fill.quantity if change.fill else D(0)
        assert filled == after.executed_qty - before.executed_qty
        # the reservation follows the remainder: what is left open stays reserved, a final order none
        assert before.remaining + change.reserved - filled - change.released == (0 if change.final else after.remaining)
        assert sum(after.trades.values()) == after.executed_qty
        booked += filled
        current = after
    assert booked == current.executed_qty
    assert (current.status is S.FILLED) == (current.remaining == 0)
