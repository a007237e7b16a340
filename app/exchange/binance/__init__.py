"""Binance TESTNET/LIVE venue: adapter.py is the entry point; the other modules each hold one concern."""
