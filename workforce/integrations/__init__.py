"""Integrations: webhooks out (endpoints, the event outbox and its deliveries)."""
