"""The real-Kalshi connectivity layer: signing, wire parsing, REST and WebSocket clients.

::

    auth.py            KalshiAuth (httpx.Auth, RSA-PSS / Ed25519), load_credentials()
    env.py             prod/demo hosts, key ↔ environment checks, check_live_consent()
    wire.py            Kalshi JSON ⇄ domain types (lenient; fixed-point ints, never floats)
    ratelimit.py       read/write token buckets, endpoint costs, retry policy
    rest.py            KalshiClient: async REST over one pooled httpx.AsyncClient (transport, retries, clock)
    rest_calls.py      RestCalls: GET + cursor pagination over request (base of the endpoint groups)
    rest_markets.py    market data endpoints (exchange, markets, books, events, series, trades)
    rest_portfolio.py  account and portfolio reads (limits, balance, positions, orders, fills)
    rest_orders.py     V2 order writes and order groups
    rest_errors.py     HTTP error answers → kalashi_cli.errors
    catalog.py         series/event metadata cache; Kalshi market → domain Market with fees attached
    books.py           local order books (dict levels) fed by snapshots and deltas
    ws.py              KalshiFeed: WebSocket market data with seq checks, resync, reconnect
    source.py          KalshiSource (MarketSource) and open_source("kalshi" | "kalshi-demo" | "replay:…")
    broker.py          KalshiBroker (Broker) for demo and live, over the V2 order endpoints
    recorder.py        record(): REST snapshots + raw WS frames to JSON Lines (docs/recording-format.md)
    replay.py          ReplaySource: a recording played through the live book code ("replay:PATH")
    ticker_trades.py   trades inferred from ``ticker`` volume (recordings without a trade channel)
    aio.py             a private asyncio loop in a background thread (sync facades over async clients)

Nothing here is imported by ``kalashi_cli/__init__``; heavy modules (httpx, websockets,
cryptography) are imported only by the modules that need them.
"""
