"""Swift-style replicated object storage for Cumulo: rings, storage nodes, proxy logic, daemons."""
