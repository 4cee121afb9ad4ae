"""Generated workloads for `billing simulate --agreements N --days D`: a scenario (CONTRACT §5 format).

A deterministic mix (seeded) of plans, currencies, time zones and payment
methods, taxes, with amendments (up and down) and cancellations sprinkled over the period, so a
short run exercises proration, tax, credit notes, credit applied and refunded, retries and declines.
"""

import random
import uuid
from datetime import date, timedelta
from typing import Any

PLANS = [  # (interval, interval_count, weight)
    ("month", 1, 60),
    ("week", 1, 12),
    ("week", 2, 5),
    ("year", 1, 8),
    ("month", 3, 8),
    ("day", 1, 2),
]
PRICES = {
    "EUR": [999, 1999, 4900],
    "USD": [500, 2500, 9900],
    "GBP": [799, 1500],
    "JPY": [1000, 3300],
    "KWD": [1250, 4500],
}
# Sales tax per currency (rate, inclusive): consumer prices in GBP and JPY include it, EUR and USD
# add it, KWD has none. Every fourth agreement is untaxed (a business customer, reverse charge).
TAXES = {"EUR": ("19", False), "USD": ("8.875", False), "GBP": ("20", True), "JPY": ("10", True)}
TIMEZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "America/Sao_Paulo",
]
PAYMENT_METHODS = [("pm_ok", 85), ("pm_insufficient_funds", 6), ("pm_stolen", 3), ("pm_timeout_once", 6)]


def _pick(rng: random.Random, weighted: list[tuple[Any, ...]]) -> Any:
    return rng.choices(weighted, weights=[w[-1] for w in weighted])[0]


def _event(
    rng: random.Random, type_: str, agreement_id: str, data: dict[str, Any], on: date
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "source": "urn:example:purchases",
        "type": type_,
        "time": f"{on.isoformat()}T09:00:00Z",
        "subject": agreement_id,
        "datacontenttype": "application/json",
        "data": {"agreement_id": agreement_id, **data},
    }


def generate(agreements: int, days: int, start: date = date(2026, 3, 1), seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    deliveries: list[dict[str, Any]] = []
    last = start + timedelta(days=days - 1)
    for n in range(agreements):
        deliveries += _agreement(rng, n, start, days, last)
    deliveries.sort(key=lambda d: d["on"])
    return {
        "runs": {"from": start.isoformat(), "through": last.isoformat(), "skip": [], "at": "00:05"},
        "deliveries": deliveries,
    }


def _agreement(rng: random.Random, n: int, start: date, days: int, last: date) -> list[dict[str, Any]]:
    """One agreement's deliveries: created, then perhaps amended, perhaps cancelled."""
    agreement_id = f"agr-{n:06d}"
    interval, count, _ = _pick(rng, PLANS)
    currency = rng.choice(sorted(PRICES))
    plan = {
        "amount_minor": rng.choice(PRICES[currency]),
        "currency": currency,
        "interval": interval,
        "interval_count": count,
    }
    if currency in TAXES and n % 4:
        rate, inclusive = TAXES[currency]
        plan |= {"tax_rate": rate, "tax_inclusive": inclusive}
    created_on = start + timedelta(days=rng.randrange(max(1, min(days, 10))))
    start_date = created_on + timedelta(days=rng.choice([0, 0, 0, 1, 3]))
    created = {
        "customer_id": f"cus-{n:06d}",
        "version": 1,
        "start_date": start_date.isoformat(),
        "timezone": rng.choice(TIMEZONES),
        "plan": plan,
        "payment_method": _pick(rng, PAYMENT_METHODS)[0],
        "customer_email": f"customer{n}@example.com",
    }
    deliveries = [
        {
            "on": created_on.isoformat(),
            "event": _event(rng, "agreement.created", agreement_id, created, created_on),
        }
    ]
    version = 1
    if rng.random() < 0.15 and days > 5:  # an amendment, sometimes effective in the past
        on = created_on + timedelta(days=rng.randrange(1, days))
        version += 1
        effective = on + timedelta(days=rng.choice([-3, 0, 5]))
        amended = {
            "version": version,
            "effective_date": max(effective, start_date).isoformat(),
            # Upgrades and downgrades: a retroactive downgrade leaves credit that later invoices apply.
            "plan": dict(plan, amount_minor=plan["amount_minor"] * 2 if n % 2 else plan["amount_minor"] // 2),
        }
        deliveries.append(
            {
                "on": min(on, last).isoformat(),
                "event": _event(rng, "agreement.amended", agreement_id, amended, on),
            }
        )
    if rng.random() < 0.10 and days > 5:  # a cancellation, sometimes retroactive
        on = created_on + timedelta(days=rng.randrange(1, days))
        version += 1
        effective = max(start_date, on + timedelta(days=rng.choice([-5, 0, 10])))
        cancelled = {"version": version, "effective_date": effective.isoformat()}
        deliveries.append(
            {
                "on": min(on, last).isoformat(),
                "event": _event(rng, "agreement.cancelled", agreement_id, cancelled, on),
            }
        )
    return deliveries
