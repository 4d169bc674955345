"""A trainer's standing with an organisation: account actions (restriction,
deactivation) with notice, a response, a decision and one appeal."""
