"""The ``colossim`` command line (an edge: imports the core, nothing imports it)."""
