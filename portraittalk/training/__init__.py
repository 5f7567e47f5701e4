"""Training pieces for the paper's three stages (parameter groups, losses); no torch at import."""
