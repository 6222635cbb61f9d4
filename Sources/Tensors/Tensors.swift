// Tensors module: see docs/ARCHITECTURE.md
