"""Exchange and account information: status, schedule, data timestamp, rate limits, endpoint costs."""

from __future__ import annotations

from . import serialize as ser
from .core import ExchangeCore
from .limits import CANCEL_COST, DEFAULT_COST, GET_ORDER_COST
from .params import Params, Reply

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class ExchangeInfo:
    """``/exchange/status``, ``/exchange/schedule``, ``/exchange/user_data_timestamp``, ``/account/*``."""

    def __init__(self, x: ExchangeCore) -> None:
        self.x = x

    def status(self, p: Params) -> Reply:
        p.allow()
        active = self.x.trading_active
        return 200, {
            "exchange_active": True,
            "trading_active": active,
            "intra_exchange_transfers_active": True,
            "exchange_index_statuses": [
                {
                    "exchange_index": 0,
                    "description": "kalashi sim-exchange",
                    "exchange_active": True,
                    "trading_active": active,
                    "intra_exchange_transfers_active": True,
                }
            ],
        }

    def schedule(self, p: Params) -> Reply:
        p.allow()
        day = [{"open_time": "00:00", "close_time": "23:59"}]
        now = self.x.now_ms()
        start, end = ser.iso(now - 86_400_000), ser.iso(now + 365 * 86_400_000)
        return 200, {
            "schedule": {
                "standard_hours": [{"start_time": start, "end_time": end, **dict.fromkeys(_DAYS, day)}],
                "maintenance_windows": [],
            }
        }

    def user_data_timestamp(self, p: Params) -> Reply:
        """GET /exchange/user_data_timestamp: portfolio reads here are never stale."""
        p.allow()
        return 200, {"as_of_time": ser.iso(self.x.now_ms())}

    def limits(self, p: Params) -> Reply:
        p.allow()
        return 200, self.x.limits.limits_json()

    def endpoint_costs(self, p: Params) -> Reply:
        """GET /account/endpoint_costs: the non-default token costs this server charges."""
        p.allow()
        return 200, {
            "default_cost": DEFAULT_COST,
            "endpoint_costs": [
                {"method": "GET", "path": "/trade-api/v2/portfolio/orders/{order_id}", "cost": GET_ORDER_COST},
                {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/{order_id}", "cost": CANCEL_COST},
                {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/batched", "cost": CANCEL_COST},
            ],
        }


__all__ = ["ExchangeInfo"]
