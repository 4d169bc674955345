from __future__ import annotations

import logging

from workforce.notifications.outbox import Outbox

log = logging.getLogger(__name__)


def deliver_outbox(outbox: Outbox) -> int:
    """Send what after-commit delivery missed (a crash, a mail server that was down);
    returns how many went out."""
    sent = outbox.deliver()
    if sent:
        log.info("outbox delivered", extra={"sent": sent})
    return sent
