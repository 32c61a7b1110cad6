"""Layer 1, the foundations every other layer uses: the registries, gin
wiring and the typed run options, config lookup, gin names checked before
TensorFlow loads, one-line errors, stateless randomness, atomic file writes
and the CPU's native formats. Nothing here imports a higher layer."""
