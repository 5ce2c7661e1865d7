"""The portfolio: domain models, services and the command line."""

from portfolio.arenas import limit_arenas

# Before any thread starts: glibc gives a thread its arena at the thread's first allocation.
limit_arenas()
