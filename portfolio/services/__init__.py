"""Use cases of the portfolio: one function each, permissions enforced here."""
