"""Fakes of external services, for tests. Only the exchange is faked; Redis and HTTP are real."""
