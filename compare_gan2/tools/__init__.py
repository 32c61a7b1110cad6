"""Layer 6, tools over runs: export and load generators (`hub`), sample from
and score exported generators or image folders (`sample`, `score`), sweeps
(`sweep/`) and label inference (`labels/`)."""
