"""Vectorised search over parallel plans: enumerate, prune, evaluate, rank."""

from colossim.search.engine import (
    SearchResult,
    SearchSpace,
    candidate_values,
    enumerate_plans,
    plan_search,
    search,
    stack_space,
)

__all__ = [
    "SearchResult",
    "SearchSpace",
    "candidate_values",
    "enumerate_plans",
    "plan_search",
    "search",
    "stack_space",
]
