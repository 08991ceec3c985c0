"""Performance model: efficiency profiles, communication costs, step time."""
