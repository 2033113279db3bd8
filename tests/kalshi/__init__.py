"""Tests of the real-Kalshi connectivity layer (kalashi_cli/kalshi, its replay)."""
