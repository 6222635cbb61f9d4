// Sandbox module: see docs/ARCHITECTURE.md
