// MathGrader module: see docs/ARCHITECTURE.md
