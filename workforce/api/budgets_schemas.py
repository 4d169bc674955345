"""Bodies of a project's budget (``projects.budgets``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import MINOR_UNITS, UtcDateTime

# The budget's column is a 32-bit integer, like every amount of the schema: 21,474,836.47
# in a currency of two decimals.
MAX_BUDGET = 2**31 - 1


class BudgetSetSchema(Schema):
    amount = fields.Integer(required=True, allow_none=True, strict=True,
                            validate=validate.Range(min=1, max=MAX_BUDGET), metadata={
        **MINOR_UNITS, "description": "The budget in the project's currency, minor units "
        f"(at most {MAX_BUDGET:,}); null removes it."})


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
    claim_amount = _money("What a new claim commits: the current per-task rate (hourly "
                          "projects: 0). A claim that would take spent and committed over "
                          "the budget is refused.")
    overlap_slots = fields.Integer(metadata={
        "description": "Slots dynamic overlap added to the project's tasks (their cost is "
        "part of spent, committed and projected)."})
    overlap_cost = _money("What the slots dynamic overlap added cost, commit or will cost, "
                          "at the current per-task rate: overlap_slots x claim_amount.")
    exhausted_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the budget was found unable to pay for another task (the "
        "scheduler's pass, each minute, or setting the budget); the marketplace shows it "
        "to trainers. The claim itself checks the figures: 409 `budget-spent`."})
