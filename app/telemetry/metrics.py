"""Prometheus metrics, in base units, with bounded labels only (no ids).

One ``Metrics`` object per process, built at start-up on its own registry so tests can build theirs.
Names are documented in docs/observability.md; the dashboard and alert rules use only these.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from app import __version__

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")
QUOTE_OUTCOMES = ("accepted", "refused")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, mode: str = "PAPER") -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build_info = Gauge("execution_build_info", "Build and mode of this replica.",
                                ["version", "mode"], registry=r)
        self.build_info.labels(__version__, mode).set(1)
        self.intents_received = Counter("execution_intents_received_total",
                                        "Intent stream entries read (new and redelivered).", registry=r)
        self.results = Counter("execution_results_total",
                               "Intents answered by this replica since it started, by status and reason; "
                               "duplicates are counted apart (GET /status: every replica, since Redis was new).",
                               ["status", "reason"], registry=r)
        self.duplicates = Counter("execution_duplicate_intents_total",
                                  "Intents whose intent_id had already been answered: the earlier result "
                                  "re-published, marked duplicate.", registry=r)
        self.orders = Counter("execution_orders_total", "Orders sent to the exchange, by outcome.",
                              ["status", "mode", "symbol"], registry=r)
        self.risk_rejections = Counter("execution_risk_rejections_total", "Intents denied by risk checks.",
                                       ["reason"], registry=r)
        self.intent_latency = Histogram("execution_intent_latency_seconds",
                                        "Time from reading an intent to publishing its result.",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.exchange_latency = Histogram("execution_exchange_request_seconds",
                                          "Exchange request latency by endpoint and outcome.",
                                          ["endpoint", "outcome"], buckets=LATENCY_BUCKETS, registry=r)
        self.consumer_lag = Gauge("execution_consumer_lag",
                                  "Intent entries not yet delivered to the consumer group.", registry=r)
        self.consumer_pending = Gauge("execution_consumer_pending",
                                      "Intent entries delivered but not acknowledged.", registry=r)
        self.dead_letters = Counter("execution_dead_letters_total",
                                    "Intent entries moved to the dead-letter stream.", registry=r)
        self.reclaimed = Counter("execution_reclaimed_total",
                                 "Pending entries reclaimed from other consumers.", registry=r)
        self.position_notional = Gauge("execution_position_notional_usd",
                                       "Signed position notional at entry price, by symbol.", ["symbol"],
                                       registry=r)
        self.trading_state = Gauge("execution_trading_state", "1 for the current trading state.", ["state"],
                                   registry=r)
        self.rate_limit_used = Gauge("execution_rate_limit_used_ratio",
                                     "Share of the exchange request-weight budget used this minute.",
                                     registry=r)
        self.exchange_up = Gauge("execution_exchange_up", "1 when the exchange is usable.", registry=r)
        self.exchange_banned = Gauge("execution_exchange_banned",
                                     "1 while the exchange has banned or paused this IP (429/418).",
                                     registry=r)
        self.redis_up = Gauge("execution_redis_up", "1 when Redis answered the last health check.", registry=r)
        self.consumer_up = Gauge("execution_consumer_up", "1 while the consumer loop is running.", registry=r)
        self.open_orders = Gauge("execution_open_orders",
                                 "Orders open at the venue (NEW or PARTIALLY_FILLED), every replica's.", registry=r)
        self.oldest_open_order_age = Gauge("execution_oldest_open_order_age_seconds",
                                           "Age of the oldest open order (0 when none is open).", registry=r)
        self.order_fills = Counter("execution_order_fills_total",
                                   "Fills of open orders booked by this replica (each fill once, by trade id).",
                                   ["symbol"], registry=r)
        self.order_changes = Counter("execution_order_final_total",
                                     "Open orders that ended, written by this replica, by final status and reason.",
                                     ["status", "reason"], registry=r)
        self.time_to_fill = Histogram("execution_order_time_to_fill_seconds",
                                      "Time from an order being accepted to its last fill.",
                                      buckets=(*LATENCY_BUCKETS, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0),
                                      registry=r)
        self.order_polls = Counter("execution_order_polls_total",
                                   "Polls of the venue's open orders by this replica (TESTNET/LIVE), by outcome.",
                                   ["outcome"], registry=r)
        for outcome in ("ok", "failed"):
            self.order_polls.labels(outcome)
        self.order_poller = Gauge("execution_order_poller",
                                  "1 while this replica holds the lease to poll the venue's open orders.", registry=r)
        self.user_stream_holder = Gauge("execution_user_stream_holder",
                                        "1 while this replica holds the venue's user-data stream and it is connected.",
                                        registry=r)
        self.user_stream_events = Counter("execution_user_stream_events_total",
                                          "Order events the user-data stream brought to this replica, by outcome.",
                                          ["outcome"], registry=r)
        for outcome in ("booked", "unchanged", "unknown_order"):
            self.user_stream_events.labels(outcome)
        self.funding_fees = Counter("execution_funding_fees_total",
                                    "Funding fees the venue booked on the account (absolute amounts): "
                                    "direction paid or received.", ["asset", "direction"], registry=r)
        self.balance = Gauge("execution_balance", "The venue's wallet balance of an asset (user-data stream).",
                             ["asset"], registry=r)
        self.user_stream_connects = Counter("execution_user_stream_connects_total",
                                            "User-data stream (re)connections by this replica, by outcome.",
                                            ["outcome"], registry=r)
        for outcome in ("ok", "failed"):
            self.user_stream_connects.labels(outcome)
        self.orders_lost = Counter("execution_orders_lost_total",
                                   "Open orders the venue no longer knew after ORDER_LOST_AFTER_LOOKUPS look-ups, "
                                   "ended EXPIRED with reason LOST by this replica.", registry=r)
        self.reconciliations = Counter("execution_reconciliations_total",
                                       "Rounds of reconciliation with the venue's account by this replica, by outcome.",
                                       ["outcome"], registry=r)
        for outcome in ("ok", "failed"):
            self.reconciliations.labels(outcome)
        self.reconciliation_drift_kinds = ("external_order", "missing_order", "position", "balance")
        self.reconciliation_drift = Gauge("execution_reconciliation_drift",
                                          "Items of drift between the books and the venue found by this replica's last "
                                          "reconciliation round, by kind (0 when another replica reconciles).",
                                          ["kind"], registry=r)
        for kind in self.reconciliation_drift_kinds:
            self.reconciliation_drift.labels(kind)
        self.external_adjustments = Counter("execution_external_adjustments_total",
                                            "Position differences booked as external trades by reconciliation.",
                                            registry=r)
        self.quotes = Counter("execution_quotes_total",
                              "Quote stream entries read by this replica (PAPER_PRICE_SOURCE=stream), by outcome.",
                              ["outcome"], registry=r)
        for outcome in QUOTE_OUTCOMES:
            self.quotes.labels(outcome)
        self.quote_age = Gauge("execution_quote_age_seconds",
                               "Age of the newest accepted quote, by its stream entry id's time (NaN before one).",
                               registry=r)
        self.quote_age.set_function(lambda: float("nan"))

    def set_trading_state(self, state: str) -> None:
        for name in TRADING_STATES:
            self.trading_state.labels(name).set(1 if name == state else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
