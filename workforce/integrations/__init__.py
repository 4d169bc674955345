"""Integrations: what other systems use to work with an organisation: API keys, and
webhooks out (endpoints, the event outbox and its deliveries)."""
