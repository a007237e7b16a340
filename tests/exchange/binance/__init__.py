"""Tests of app/exchange/binance against the fake Binance server and a real Redis."""
