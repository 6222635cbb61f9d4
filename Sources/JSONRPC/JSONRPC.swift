// JSONRPC module: see docs/ARCHITECTURE.md
