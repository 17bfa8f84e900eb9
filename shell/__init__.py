"""mintgate's async shell (anyio): runs the pure core's decisions as timers, mints and waiters.

Empty until the shell issue lands; the package exists so the layout and packaging are final.
"""
