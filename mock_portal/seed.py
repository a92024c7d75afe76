"""Deterministic demo data.

Order ids, buyers, products, statuses and requests depend only on the seed number and the
order count; dates are placed relative to the portal's clock at seeding time, so that "an
order an hour before its auto-cancel deadline" stays true whenever the portal is seeded.

Demo seller order ids are `112-<seed:7>-<n:7>` for n = 1..orders; the second seller's are
`114-<seed:7>-<n:7>`. The first orders of the demo seller are the fixed cases in `CASES`
(only those that fit in the order count exist); the rest are a random mix.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import string
from datetime import datetime, timedelta
from typing import Any

from werkzeug.security import generate_password_hash

from mock_portal import clock, db, orders

SECOND_SELLER = {
    "email": "seller2@example.com",
    "password": "demo-password-2",
    "totp_secret": "GEZDGNBVGY3TQOJQ",
    "name": "Second Demo Seller",
}
SECOND_SELLER_ORDERS = 6

# The fixed cases of PORTAL.md's "Demo data", by order number of the demo seller.
CASES: dict[str, int] = {
    "flagged": 1,  # officially requested cancellation, Unshipped
    "flagged_2": 2,
    "message_request": 3,  # buyer only wrote a message, Unshipped
    "message_request_2": 4,
    "same_buyer_1": 5,  # one buyer with two orders, both Unshipped
    "same_buyer_2": 6,
    "same_sku_1": 7,  # two orders with the same SKU (no other order has it)
    "same_sku_2": 8,
    "near_auto_cancel": 9,  # Unshipped, an hour before its auto-cancel deadline
    "multi_item": 10,  # three items, one with quantity 2
    "multi_item_2": 11,
    "pending_new": 12,  # Pending, placed 10 minutes ago (the buyer may still cancel it)
    "pending": 13,
    "shipped": 14,
    "cancelled_counted": 15,  # cancelled by the seller (No Inventory), counts toward the rate
    "cancelled_by_buyer": 16,
    "cancelled_requested": 17,  # flagged, then cancelled as Buyer Canceled: not counted
    "pending_near_expiry": 18,  # Pending, an hour before it expires
}

SHARED_SKU = "TWIN-MUG-350"
SAME_BUYER_NAME = "Mei Lin"

FIRST_NAMES = [
    "Alex", "Jordan", "Sam", "Taylor", "Chris", "Priya", "Wei", "Hana", "Lucas", "Sofia",
    "Omar", "Elena", "Kenji", "Aisha", "Noah", "Zoe", "Mateo", "Ines", "Ravi", "Yuki",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Garcia", "Chen", "Kowalski", "Nguyen", "Okafor", "Rossi", "Tanaka", "Muller",
    "Silva", "Haddad", "Novak", "Kim", "Brown", "Wang", "Dubois", "Patel", "Larsen",
]  # fmt: skip
PRODUCTS = [
    ("Stainless Steel Water Bottle 750 ml", "19.99"),
    ("Bamboo Cutting Board Set", "24.50"),
    ("USB-C Charging Cable 2 m", "9.99"),
    ("Wireless Mouse, Silent Click", "15.49"),
    ("Cotton Bath Towel, Grey", "12.00"),
    ("LED Desk Lamp with Dimmer", "32.90"),
    ("Ceramic Plant Pot 15 cm", "11.25"),
    ("Yoga Mat 6 mm, Blue", "27.99"),
    ("Noise Cancelling Earbuds", "49.00"),
    ("Cast Iron Skillet 26 cm", "34.95"),
    ("Kids' Building Blocks, 200 pieces", "29.99"),
    ("Notebook A5, Dotted, 3-pack", "13.40"),
    ("Phone Stand, Aluminium", "14.99"),
    ("Coffee Grinder, Manual", "39.50"),
    ("Running Socks, 5 pairs", "16.75"),
    ("Silicone Baking Mat", "10.99"),
    ("Travel Adapter, Universal", "21.00"),
    ("Scented Candle, Lavender", "8.49"),
    ("Backpack 20 L, Water Resistant", "44.90"),
    ("Glass Food Containers, 5-pack", "26.99"),
    ("Electric Kettle 1.7 L", "36.00"),
    ("Fleece Blanket, Queen", "23.99"),
    ("Screwdriver Set, 32 pieces", "18.60"),
    ("Sunglasses, Polarized", "22.00"),
]
REQUEST_REASONS = [
    "Ordered by mistake",
    "Found a better price elsewhere",
    "Delivery date is too late",
    "Need to change the shipping address",
]
MESSAGE_BODIES = [
    "Hi, please cancel my order, I ordered the wrong size.",
    "Hello, can you cancel this order? I don't need it anymore.",
    "Please cancel my order, thanks.",
]


def order_id(seed: int, number: int, prefix: str = "112") -> str:
    """The id of the demo seller's order `number` (1-based) for `seed`."""
    return f"{prefix}-{seed % 10**7:07d}-{number:07d}"


def case_ids(seed: int, orders_count: int) -> dict[str, str]:
    """The fixed cases that exist for this seed and order count, name -> order id."""
    return {name: order_id(seed, n) for name, n in CASES.items() if n <= orders_count}


def _catalog(rng: random.Random) -> list[dict]:
    catalog = []
    for index, (title, price) in enumerate(PRODUCTS):
        asin = "B0" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=8))
        sku = f"{title.split()[0].upper()[:5]}-{index + 1:03d}-{rng.randint(10, 99)}"
        catalog.append({"asin": asin, "sku": sku, "title": title, "price": price})
    return catalog


def _buyer(rng: random.Random) -> tuple[str, str]:
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    relay = "".join(rng.choices(string.ascii_lowercase + string.digits, k=15))
    return name, f"{relay}@marketplace.example"


# The demo passwords are published, so the hash guards nothing secret; a moderate PBKDF2 cost
# keeps sign-in (checked on every login) and seeding (every fresh test database) quick.
PASSWORD_HASH_METHOD = "pbkdf2:sha256:60000"


@functools.cache
def _password_hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_HASH_METHOD)


def _insert_seller(
    conn: sqlite3.Connection, email: str, password: str, totp: str, name: str
) -> int:
    cursor = conn.execute(
        "INSERT INTO sellers(email, name, password_hash, totp_secret) VALUES (?, ?, ?, ?)",
        (email, name, _password_hash(password), totp),
    )
    return int(cursor.lastrowid)


class _Builder:
    """Writes orders with their items and history (inside the caller's transaction)."""

    def __init__(self, conn: sqlite3.Connection, now: datetime, preset: str) -> None:
        self.conn = conn
        self.now = now
        self.preset = preset

    def add(
        self,
        *,
        oid: str,
        seller_id: int,
        status: str,
        age: timedelta,
        buyer: tuple[str, str],
        items: list[tuple[dict, int]],
        ship_by: datetime | None = None,
    ) -> sqlite3.Row:
        purchased = self.now - age
        ship_by = ship_by or (purchased + timedelta(days=2))
        deliver_by = ship_by + timedelta(days=5)
        self.conn.execute(
            "INSERT INTO orders(id, seller_id, status, purchase_date, ship_by, deliver_by, "
            "buyer_name, buyer_email) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                oid,
                seller_id,
                "Unshipped" if status in ("Shipped", "Canceled") else status,
                clock.iso(purchased),
                clock.iso(ship_by),
                clock.iso(deliver_by),
                buyer[0],
                buyer[1],
            ),
        )
        for product, quantity in items:
            self.conn.execute(
                "INSERT INTO order_items(order_id, asin, sku, title, quantity, price) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    oid,
                    product["asin"],
                    product["sku"],
                    product["title"],
                    quantity,
                    product["price"],
                ),
            )
        orders.add_history(self.conn, oid, clock.iso(purchased), "ordered", "order placed")
        if status == "Shipped":
            shipped = min(purchased + timedelta(days=1), self.now)
            self.conn.execute(
                "UPDATE orders SET status = 'Shipped', shipped_at = ? WHERE id = ?",
                (clock.iso(shipped), oid),
            )
            orders.add_history(
                self.conn, oid, clock.iso(shipped), "shipped", "shipment confirmed by the seller"
            )
        return self.row(oid)

    def row(self, oid: str) -> sqlite3.Row:
        return orders._fetch(self.conn, oid)

    def flag(self, oid: str, reason: str, at: datetime) -> None:
        self.conn.execute(
            "UPDATE orders SET buyer_request_kind = 'official', buyer_request_reason = ?, "
            "buyer_requested_at = ? WHERE id = ?",
            (reason, clock.iso(at), oid),
        )
        orders.add_history(self.conn, oid, clock.iso(at), "buyer_requested_cancellation", reason)
        orders.send_request_mail(self.conn, self.row(oid), reason, clock.iso(at))

    def message(self, oid: str, body: str, at: datetime) -> None:
        row = self.row(oid)
        self.conn.execute(
            "INSERT INTO messages(seller_id, order_id, buyer_name, body, sent_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (row["seller_id"], oid, row["buyer_name"], body, clock.iso(at)),
        )
        self.conn.execute(
            "UPDATE orders SET buyer_request_kind = 'message', buyer_request_reason = ?, "
            "buyer_requested_at = ? WHERE id = ?",
            (body, clock.iso(at), oid),
        )
        orders.add_history(self.conn, oid, clock.iso(at), "buyer_message", body)

    def cancel(self, oid: str, *, reason: str, by: str, counts: bool, at: datetime) -> None:
        """A cancellation from before the demo began: history only, no emails (the mailbox
        starts with what happens from now on, plus the open buyer requests)."""
        self.conn.execute(
            "UPDATE orders SET status = 'Canceled', cancel_reason = ?, cancelled_by = ?, "
            "cancelled_at = ?, counts_toward_rate = ?, cancel_events = 1 WHERE id = ?",
            (reason, by, clock.iso(at), counts, oid),
        )
        detail = f"by {by}; reason {reason}; " + (
            "counts toward rate" if counts else "does not count toward rate"
        )
        orders.add_history(self.conn, oid, clock.iso(at), "cancelled", detail)


def _deadline_ship_by(target: datetime, preset: str) -> datetime:
    """A ship-by date whose auto-cancel deadline is `target` (or the next weekday at the same
    time, when the business-day rule cannot end on a weekend)."""
    if preset != "amazon-7bd":
        return target - timedelta(days=30)
    while target.weekday() >= 5:
        target += timedelta(days=1)
    ship_by, counted = target, 0
    while counted < 7:
        if ship_by.weekday() < 5:
            counted += 1
        ship_by -= timedelta(days=1)
    return ship_by


def seed(
    conn: sqlite3.Connection,
    *,
    seed: int = 1,
    orders: int = 200,
    demo_email: str = "seller@example.com",
    demo_password: str = "demo-password",
    demo_totp_secret: str = "JBSWY3DPEHPK3PXP",
    now: datetime | None = None,
) -> dict:
    """Fill an empty database (the caller holds the transaction). Returns a summary."""
    rng = random.Random(f"seller-agent-portal:{seed}")
    moment = now or clock.now(conn)
    builder = _Builder(conn, moment, clock.preset(conn))
    catalog = _catalog(rng)
    twin = {
        "asin": "B0TWINMUG1",
        "sku": SHARED_SKU,
        "title": "Enamel Camping Mug 350 ml",
        "price": "12.99",
    }
    demo_id = _insert_seller(conn, demo_email, demo_password, demo_totp_secret, "Demo Seller")
    second_id = _insert_seller(
        conn,
        SECOND_SELLER["email"],
        SECOND_SELLER["password"],
        SECOND_SELLER["totp_secret"],
        SECOND_SELLER["name"],
    )
    same_buyer = (
        SAME_BUYER_NAME,
        "".join(rng.choices(string.ascii_lowercase, k=15)) + "@marketplace.example",
    )
    hour, day = timedelta(hours=1), timedelta(days=1)

    def one(product: dict | None = None, quantity: int = 1) -> list[tuple[dict, int]]:
        return [(product or rng.choice(catalog), quantity)]

    def several(count: int) -> list[tuple[dict, int]]:
        return [(product, rng.randint(1, 2)) for product in rng.sample(catalog, count)]

    cases = {
        1: {"status": "Unshipped", "age": 3 * hour, "flag": REQUEST_REASONS[0]},
        2: {"status": "Unshipped", "age": 1 * day, "flag": REQUEST_REASONS[1]},
        3: {"status": "Unshipped", "age": 5 * hour, "message": MESSAGE_BODIES[0]},
        4: {"status": "Unshipped", "age": 2 * day, "message": MESSAGE_BODIES[1]},
        5: {"status": "Unshipped", "age": 6 * hour, "buyer": same_buyer},
        6: {"status": "Unshipped", "age": 4 * day, "buyer": same_buyer},
        7: {"status": "Unshipped", "age": 8 * hour, "items": one(twin)},
        8: {"status": "Unshipped", "age": 3 * day, "items": one(twin, 2)},
        9: {"status": "Unshipped", "near_deadline": True},
        10: {"status": "Unshipped", "age": 10 * hour, "items": [(catalog[0], 1), (catalog[1], 2), (catalog[2], 1)]},
        11: {"status": "Unshipped", "age": 1 * day + 2 * hour, "items": [(catalog[3], 2), (catalog[4], 1)]},
        12: {"status": "Pending", "age": timedelta(minutes=10)},
        13: {"status": "Pending", "age": 2 * day},
        14: {"status": "Shipped", "age": 3 * day},
        15: {"status": "Canceled", "age": 2 * day, "cancel": ("NoInventory", "seller", True)},
        16: {"status": "Canceled", "age": 5 * day, "cancel": ("BuyerCanceled", "buyer", False)},
        17: {"status": "Canceled", "age": 3 * day, "flag": REQUEST_REASONS[2], "cancel": ("BuyerCanceled", "seller", False)},
        18: {"status": "Pending", "pending_expiry": True},
    }  # fmt: skip
    expiry_days = clock.pending_expiry_days(conn)
    for number in range(1, orders + 1):
        oid = order_id(seed, number)
        spec = cases.get(number) or _random_spec(rng)
        buyer = spec.get("buyer") or _buyer(rng)
        items = spec.get("items") or (several(rng.randint(2, 3)) if rng.random() < 0.12 else one())
        ship_by = None
        age = spec.get("age")
        if spec.get("near_deadline"):
            ship_by = _deadline_ship_by(moment + hour, builder.preset)
            age = moment - (ship_by - 2 * day)
        if spec.get("pending_expiry"):
            age = timedelta(days=expiry_days) - hour
        builder.add(
            oid=oid,
            seller_id=demo_id,
            status=spec["status"],
            age=age,
            buyer=buyer,
            items=items,
            ship_by=ship_by,
        )
        purchased = moment - age
        if "flag" in spec:
            builder.flag(oid, spec["flag"], purchased + min(age / 2, 2 * hour))
        if "message" in spec:
            builder.message(oid, spec["message"], purchased + min(age / 2, 2 * hour))
        if "cancel" in spec:
            reason, by, counts = spec["cancel"]
            # A buyer can only cancel in the first minutes; a seller takes a while.
            delay = timedelta(minutes=10) if by == "buyer" else min(age / 2, day)
            builder.cancel(oid, reason=reason, by=by, counts=counts, at=purchased + delay)

    second_specs = [
        {"status": "Unshipped", "age": 4 * hour},
        {"status": "Unshipped", "age": 1 * day, "flag": REQUEST_REASONS[3]},
        {"status": "Shipped", "age": 2 * day},
        {"status": "Pending", "age": 1 * day},
        {"status": "Canceled", "age": 3 * day, "cancel": ("PricingError", "seller", True)},
        {"status": "Unshipped", "age": 2 * day, "multi": True},
    ]
    for number, spec in enumerate(second_specs[:SECOND_SELLER_ORDERS], start=1):
        oid = order_id(seed, number, prefix="114")
        age = spec["age"]
        builder.add(
            oid=oid,
            seller_id=second_id,
            status=spec["status"],
            age=age,
            buyer=_buyer(rng),
            items=several(2) if spec.get("multi") else one(),
        )
        if "flag" in spec:
            builder.flag(oid, spec["flag"], moment - age / 2)
        if "cancel" in spec:
            reason, by, counts = spec["cancel"]
            builder.cancel(oid, reason=reason, by=by, counts=counts, at=moment - age / 2)

    db.set_meta(conn, "seed", seed)
    db.set_meta(conn, "orders", orders)
    return {
        "seed": seed,
        "orders": orders,
        "sellers": [demo_email, SECOND_SELLER["email"]],
        "cases": case_ids(seed, orders),
    }


def _random_spec(rng: random.Random) -> dict:
    """Unshipped orders are recent (well inside any auto-cancel window); Pending ones younger
    than the expiry; cancellations in the last week are the buyer's, so the demo starts with
    a healthy rate that a careless run of cancellations can push over the target."""
    roll = rng.random()
    hours = rng.randint(1, 24 * 5)
    if roll < 0.55:
        return {"status": "Unshipped", "age": timedelta(hours=hours, minutes=rng.randint(0, 59))}
    if roll < 0.80:
        return {"status": "Shipped", "age": timedelta(hours=rng.randint(24, 24 * 25))}
    if roll < 0.88:
        return {"status": "Pending", "age": timedelta(hours=rng.randint(1, 24 * 10))}
    if rng.random() < 0.5:
        age = timedelta(hours=rng.randint(24, 24 * 20))
        return {"status": "Canceled", "age": age, "cancel": ("BuyerCanceled", "buyer", False)}
    age = timedelta(hours=rng.randint(24 * 10, 24 * 25))
    reason = rng.choice(["NoInventory", "PricingError", "GeneralAdjustment"])
    return {"status": "Canceled", "age": age, "cancel": (reason, "seller", True)}


def reset(conn: sqlite3.Connection, config: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Wipe and re-seed in one transaction (readers never see a half-empty portal)."""
    settings = seed_settings(config, **overrides)
    with db.transaction(conn):
        db.wipe(conn)
        summary = seed(conn, **settings)
    return summary


def seed_settings(config: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    settings = {
        "seed": config.get("SEED", 1),
        "orders": config.get("ORDERS", 200),
        "demo_email": config.get("DEMO_EMAIL", "seller@example.com"),
        "demo_password": config.get("DEMO_PASSWORD", "demo-password"),
        "demo_totp_secret": config.get("DEMO_TOTP_SECRET", "JBSWY3DPEHPK3PXP"),
    }
    settings.update({key: value for key, value in overrides.items() if value is not None})
    return settings


def init_db(config: dict[str, Any]) -> None:
    """Create the schema, store settings and seed a new (empty) database; safe on every start,
    and by several processes at once (the check is repeated inside the write lock)."""
    db.init_db(config)
    conn = db.connect(config["DATABASE"])
    try:
        if not db.is_seeded(conn):
            with db.transaction(conn):
                if not db.is_seeded(conn):
                    seed(conn, **seed_settings(config))
    finally:
        conn.close()
