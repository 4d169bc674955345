"""Keys derived from a payout item's id: its transfer group, its idempotency keys and the
ledger sources of its rounds, and the item a transfer names."""

from __future__ import annotations

import uuid
from typing import Any

_ROUND_NAMESPACE = uuid.UUID("5c1f6d0e-8a55-4a51-9d0b-3b7b0f4f2a10")


def transfer_group(item_id: uuid.UUID) -> str:
    """The transfer group of every request for the item: at most one transfer per item
    ever succeeds, so this finds it whatever key it was made with."""
    return f"payout-item-{item_id}"


def idempotency_key_for(item_id: uuid.UUID, generation: int) -> str:
    """The item's ``generation``-th key. A new key is issued only after the gateway gave
    a final refusal under the previous one (a failure retried by finance, an insufficient
    balance), because the gateway answers a reused key with its first answer again."""
    base = transfer_group(item_id)
    return base if generation <= 1 else f"{base}-{generation}"


def round_source(item_id: uuid.UUID, generation: int) -> uuid.UUID:
    """The ledger source of the failure of key ``generation`` and of the retry after it
    (0 for the first approval: the item's own id)."""
    if generation <= 0:
        return item_id
    return uuid.uuid5(_ROUND_NAMESPACE, f"{item_id}:{generation}")


def item_named_by(metadata: dict[str, Any] | None, group: str | None) -> uuid.UUID | None:
    """The payout item a transfer names: in its metadata, else in its transfer group."""
    raw = (metadata or {}).get("payout_item_id")
    if raw is None and group and group.startswith("payout-item-"):
        raw = group.removeprefix("payout-item-")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None
