"""mintgate's simulations: the pure core driven over virtual time, without an event loop."""
