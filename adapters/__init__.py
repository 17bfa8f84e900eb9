"""mintgate's adapters: the effects (HTTP mints, stores, locks, telemetry) that plug into the shell.

Empty until the adapter issues land; the package exists so the layout and packaging are final.
"""
