"""Bodies of a project's budget (``projects.budgets``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import MINOR_UNITS, UtcDateTime


class BudgetSetSchema(Schema):
    amount = fields.Integer(required=True, allow_none=True, strict=True,
                            validate=validate.Range(min=1, max=2**53), metadata={
        **MINOR_UNITS, "description": "The budget in the project's currency, minor units; "
        "null removes it."})


def _money(description: str, *, nullable: bool = False) -> fields.Integer:
    return fields.Integer(allow_none=nullable, metadata={**MINOR_UNITS,
                                                         "description": description})


class BudgetSchema(Schema):
    project_id = fields.UUID()
    currency = fields.String(metadata={"example": "USD"})
    amount = _money("The budget; null: the project has none.", nullable=True)
    spent = _money("The organisation's ledger costs of the project: approved work, "
                   "bonuses, top-ups, kill fees, net of reversals.")
    committed = _money("Leased and submitted work not yet reviewed, at the rates it will "
                       "be paid; hourly: time logged in weeks not yet approved.")
    projected = _money("The open slots of the project's tasks at the current per-task "
                       "rate (hourly projects: 0).")
    remaining = _money("The budget less spent and committed (negative when over).",
                       nullable=True)
    shortfall = _money("What the projected work needs beyond the remaining budget.",
                       nullable=True)
    used_percent = fields.Float(allow_none=True, metadata={
        "description": "Spent and committed, in percent of the budget."})
    warned_at = UtcDateTime(allow_none=True, metadata={
        "description": "When managers were told 80% was reached (cleared below it)."})
    exhausted_at = UtcDateTime(allow_none=True, metadata={
        "description": "When 100% was reached: claims are refused (409 `budget-spent`) "
        "until the budget is raised."})
