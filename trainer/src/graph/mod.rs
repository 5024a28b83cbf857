//! Functional-connectivity graphs: windows, zero-lag Pearson correlation, graph construction.
