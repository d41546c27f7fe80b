"""Structure ids, atomic file I/O, label records, the label cache and the ASE database index."""
