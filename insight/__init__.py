"""insight: statistics, frontiers, figures and checks that explain why a strategy wins."""
