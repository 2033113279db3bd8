"""Tests of the real-Kalshi connectivity layer (kalashi_cli/exchange, its replay)."""
