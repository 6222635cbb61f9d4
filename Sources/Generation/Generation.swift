// Generation module: see docs/ARCHITECTURE.md
