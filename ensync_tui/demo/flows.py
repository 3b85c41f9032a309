"""Realistic demo flows: orders, invoices, bicycle telemetry, stock alerts. Pure, no I/O.

Everything follows one ``random.Random(seed)`` and a clock given by the
caller, so a seed and a start time give the same messages every time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

EXPLORER = "explorer"
IDENTITIES = (
    EXPLORER,
    "orders-service",
    "payments-service",
    "billing",
    "fleet-tracker",
    "warehouse",
)

# name -> schema ({field: type}) or None; the engine checks payload skeletons against these
SCHEMAS: dict[str, dict[str, str] | None] = {
    "orders/created": {
        "orderId": "string",
        "customer": "object",
        "items": "array",
        "total": "object",
        "channel": "string",
        "createdAt": "string",
    },
    "orders/status": {
        "orderId": "string",
        "status": "string",
        "previous": "string",
        "changedAt": "string",
        "actor": "string",
        "details": "object",
    },
    "payments/invoice": {
        "invoiceId": "string",
        "orderId": "string",
        "amount": "object",
        "lines": "array",
        "dueDate": "string",
        "status": "string",
    },
    "fleet/bicycles/coordinates": {
        "bikeId": "string",
        "lat": "double",
        "lon": "double",
        "speedKmh": "double",
        "battery": "integer",
        "locked": "boolean",
        "ts": "long",
    },
    "inventory/stock-low": {
        "sku": "string",
        "warehouse": "string",
        "onHand": "integer",
        "threshold": "integer",
        "reorder": "object",
    },
    "notifications/email": None,
}
NAMES = tuple(SCHEMAS)

# share of the traffic per flow
WEIGHTS = {
    "fleet/bicycles/coordinates": 40,
    "orders/status": 20,
    "orders/created": 15,
    "payments/invoice": 10,
    "inventory/stock-low": 7,
    "notifications/email": 8,
}

# publish_sample() goes round these, so a few samples show every flow
SAMPLE_ORDER = (
    "orders/created",
    "fleet/bicycles/coordinates",
    "orders/status",
    "payments/invoice",
    "fleet/bicycles/coordinates",
    "inventory/stock-low",
    "orders/created",
    "notifications/email",
    "orders/status",
    "fleet/bicycles/coordinates",
)

STATUSES = ("created", "paid", "packed", "shipped", "delivered")
CUSTOMERS = (
    ("Ada Lovelace", "London", "GB"),
    ("Grace Hopper", "Arlington", "US"),
    ("Katherine Johnson", "Hampton", "US"),
    ("Margaret Hamilton", "Boston", "US"),
    ("Hedy Lamarr", "Vienna", "AT"),
    ("Radia Perlman", "Seattle", "US"),
    ("Sophie Wilson", "Cambridge", "GB"),
    ("Frances Allen", "Peru", "US"),
    ("Barbara Liskov", "Los Angeles", "US"),
    ("Annie Easley", "Cleveland", "US"),
)
PRODUCTS = (
    ("BIKE-CITY-3", "City bike, 3 gears", 549.0),
    ("HELMET-M", "Helmet, size M", 59.9),
    ("LOCK-U", "U-lock, 18 mm", 44.5),
    ("LIGHT-SET", "LED light set", 29.95),
    ("TUBE-28", "Inner tube 28 inch", 7.5),
    ("BAG-PANNIER", "Pannier bag, 20 l", 89.0),
    ("PUMP-FLOOR", "Floor pump", 34.0),
    ("CHAIN-9S", "Chain, 9 speed", 24.9),
)
CHANNELS = ("web", "mobile-app", "store", "partner-api")
WAREHOUSES = ("AMS-1", "RTM-2", "UTR-1")
CURRENCY = "EUR"


@dataclass(slots=True)
class Planned:
    """One message to publish: who sends it, to whom (identity names), what."""

    sender: str
    name: str
    recipients: list[str]
    payload: dict[str, Any]
    headers: dict[str, str]


@dataclass(slots=True)
class _Order:
    order_id: str
    total: float
    status: str = "created"


@dataclass(slots=True)
class _Bike:
    bike_id: str
    lat: float
    lon: float
    battery: int
    heading: float


@dataclass(slots=True)
class Flows:
    """The demo's simulated world; ``next(now)`` plans the next message."""

    seed: int = 0
    rng: random.Random = field(init=False)
    orders: list[_Order] = field(default_factory=list)
    bikes: list[_Bike] = field(default_factory=list)
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.bikes = [
            _Bike(
                f"bike-{n:03d}",
                52.37 + self.rng.uniform(-0.03, 0.03),
                4.89 + self.rng.uniform(-0.05, 0.05),
                self.rng.randint(35, 100),
                self.rng.uniform(0, 360),
            )
            for n in range(1, 9)
        ]

    # -------------------------------------------------------------- helpers

    def _id(self, prefix: str, digits: int = 6) -> str:
        return f"{prefix}-{self.rng.randrange(10**digits):0{digits}d}"

    def _headers(self, source: str, now: float) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "traceId": f"{self.rng.getrandbits(128):032x}",
            "source": source,
            "schemaVersion": self.rng.choice(("1", "1", "2")),
        }
        if self.rng.random() < 0.15:
            headers["priority"] = "high"
        if self.rng.random() < 0.08:
            headers["retryCount"] = str(self.rng.randint(1, 3))
        if self.rng.random() < 0.3:
            headers["sentAt"] = _iso(now)
        return headers

    def next(self, now: float, name: str | None = None) -> Planned:
        """The next message at time ``now`` (seconds since the epoch), of a random
        flow or of the flow ``name``."""
        self.counter += 1
        if name is None:
            names = list(WEIGHTS)
            name = self.rng.choices(names, weights=[WEIGHTS[n] for n in names])[0]
        elif name not in SCHEMAS:
            raise ValueError(f"no demo flow named {name!r}")
        if name in ("orders/status", "payments/invoice") and not self.orders:
            name = "orders/created"
        return getattr(self, "_" + name.replace("/", "_").replace("-", "_"))(now)

    # -------------------------------------------------------------- flows

    def _orders_created(self, now: float) -> Planned:
        who, city, country = self.rng.choice(CUSTOMERS)
        items: list[dict[str, Any]] = []
        for sku, title, price in self.rng.sample(PRODUCTS, self.rng.randint(1, 4)):
            qty = self.rng.choice((1, 1, 1, 2, 3))
            items.append({"sku": sku, "title": title, "qty": qty, "unitPrice": price})
        subtotal = round(sum(i["qty"] * i["unitPrice"] for i in items), 2)
        vat = round(subtotal * 0.21, 2)
        order = _Order(self._id("ord"), round(subtotal + vat, 2))
        self.orders.append(order)
        del self.orders[:-40]  # keep the world small
        payload = {
            "orderId": order.order_id,
            "customer": {
                "id": self._id("cus", 5),
                "name": who,
                "address": {"city": city, "country": country},
                "loyalty": self.rng.choice(("none", "silver", "gold")),
            },
            "items": items,
            "total": {
                "subtotal": subtotal,
                "vat": vat,
                "amount": order.total,
                "currency": CURRENCY,
            },
            "channel": self.rng.choice(CHANNELS),
            "createdAt": _iso(now),
        }
        recipients = [EXPLORER, "warehouse"]
        return Planned(
            "orders-service",
            "orders/created",
            recipients,
            payload,
            self._headers("orders-service", now),
        )

    def _orders_status(self, now: float) -> Planned:
        open_orders = [o for o in self.orders if o.status != "delivered"] or self.orders
        order = self.rng.choice(open_orders)
        previous = order.status
        index = STATUSES.index(previous)
        if self.rng.random() < 0.05 and previous not in ("shipped", "delivered"):
            status = "cancelled"
        else:
            status = STATUSES[min(index + 1, len(STATUSES) - 1)]
        order.status = status if status != "cancelled" else "delivered"
        payload: dict[str, Any] = {
            "orderId": order.order_id,
            "status": status,
            "previous": previous,
            "changedAt": _iso(now),
            "actor": self.rng.choice(("system", "warehouse", "courier", "customer-support")),
            "details": {},
        }
        if status == "cancelled":
            payload["details"]["reason"] = self.rng.choice(
                ("customer request", "payment failed", "out of stock")
            )
        if status == "shipped":
            payload["details"]["tracking"] = {
                "carrier": self.rng.choice(("PostNL", "DHL", "UPS")),
                "code": f"3S{self.rng.randrange(10**10):010d}",
            }
        return Planned(
            "orders-service",
            "orders/status",
            [EXPLORER],
            payload,
            self._headers("orders-service", now),
        )

    def _payments_invoice(self, now: float) -> Planned:
        order = self.rng.choice(self.orders)
        net = round(order.total / 1.21, 2)
        payload = {
            "invoiceId": f"INV-{2026}-{self.rng.randrange(10**5):05d}",
            "orderId": order.order_id,
            "amount": {
                "net": net,
                "vat": round(order.total - net, 2),
                "gross": order.total,
                "currency": CURRENCY,
            },
            "lines": [
                {"description": "Goods", "amount": net},
                {"description": "VAT 21%", "amount": round(order.total - net, 2)},
            ],
            "dueDate": (datetime.fromtimestamp(now, UTC) + timedelta(days=30)).date().isoformat(),
            "status": self.rng.choice(("issued", "issued", "paid", "overdue")),
        }
        return Planned(
            "payments-service",
            "payments/invoice",
            [EXPLORER, "billing", "orders-service"],  # several recipients: a hybrid envelope
            payload,
            self._headers("payments-service", now),
        )

    def _fleet_bicycles_coordinates(self, now: float) -> Planned:
        bike = self.rng.choice(self.bikes)
        locked = self.rng.random() < 0.2
        speed = 0.0 if locked else round(self.rng.uniform(8.0, 24.0), 1)
        bike.heading = (bike.heading + self.rng.uniform(-40, 40)) % 360
        step = speed / 3600 / 111 * 10  # ~10 s of riding, in degrees

        bike.lat = round(bike.lat + step * math.cos(math.radians(bike.heading)), 6)
        bike.lon = round(bike.lon + step * math.sin(math.radians(bike.heading)) * 1.6, 6)
        bike.battery = max(5, bike.battery - self.rng.choice((0, 0, 1)))
        payload = {
            "bikeId": bike.bike_id,
            "lat": float(bike.lat),
            "lon": float(bike.lon),
            "speedKmh": float(speed),
            "battery": bike.battery,
            "locked": locked,
            "ts": int(now * 1000),
        }
        headers = {"content-type": "application/json", "source": "fleet-tracker"}
        if self.rng.random() < 0.2:
            headers["firmware"] = self.rng.choice(("2.4.1", "2.5.0"))
        return Planned("fleet-tracker", "fleet/bicycles/coordinates", [EXPLORER], payload, headers)

    def _inventory_stock_low(self, now: float) -> Planned:
        sku, title, _ = self.rng.choice(PRODUCTS)
        threshold = self.rng.choice((5, 10, 20))
        on_hand = self.rng.randint(0, threshold - 1)
        payload = {
            "sku": sku,
            "warehouse": self.rng.choice(WAREHOUSES),
            "onHand": on_hand,
            "threshold": threshold,
            "reorder": {
                "supplier": self.rng.choice(("Gazelle", "Batavus", "Abus", "Ortlieb")),
                "quantity": threshold * self.rng.randint(2, 5),
                "title": title,
                "urgent": on_hand == 0,
            },
        }
        return Planned(
            "warehouse",
            "inventory/stock-low",
            [EXPLORER, "orders-service"],
            payload,
            self._headers("warehouse", now),
        )

    def _notifications_email(self, now: float) -> Planned:
        who, _, _ = self.rng.choice(CUSTOMERS)
        order = self.rng.choice(self.orders) if self.orders else None
        template = self.rng.choice(("order-confirmation", "shipping-update", "invoice-reminder"))
        payload: dict[str, Any] = {
            "template": template,
            "to": who.lower().replace(" ", ".") + "@example.com",
            "locale": self.rng.choice(("en-GB", "nl-NL", "de-DE")),
            "variables": {"name": who.split()[0]},
        }
        if order:
            payload["variables"]["orderId"] = order.order_id
        return Planned(
            "billing", "notifications/email", [EXPLORER], payload, self._headers("billing", now)
        )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
