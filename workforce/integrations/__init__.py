"""Integrations: what other systems use to work with an organisation (API keys)."""
