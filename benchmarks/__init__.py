"""Side-by-side measurements, printed as markdown tables."""
