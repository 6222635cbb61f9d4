// RL module: see docs/ARCHITECTURE.md
