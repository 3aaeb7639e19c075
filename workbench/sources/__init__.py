"""Sources: one module per backend, each translating backend data into the frame contract."""
