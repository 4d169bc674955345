"""Money owed to trainers: earning events now; the ledger and payouts build on them."""
