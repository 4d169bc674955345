"""Wellbeing: content warnings and consent, exposure to sensitive work and its limits,
flags and support, check-ins, and the organisation's wellbeing policy."""
