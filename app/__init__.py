"""Execution service: trade intents in over Redis Streams, orders out, one result per intent."""

__version__ = "0.1.0"
SERVICE_NAME = "execution-service"
