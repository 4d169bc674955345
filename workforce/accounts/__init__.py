"""Organisations, users, roles, API tokens, invitations, passwords and the audit log."""
