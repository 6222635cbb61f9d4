#!/bin/sh
# Prints the OpenBLAS core type for this CPU. Debian's OpenBLAS 0.3.21 takes AVX-512 CPUs for Haswell and runs
# sgemm at half speed unless OPENBLAS_CORETYPE is set before the library loads (docs/ARCHITECTURE.md).
if grep -q -w avx512f /proc/cpuinfo 2>/dev/null && grep -q -w avx512bw /proc/cpuinfo; then echo SkylakeX
elif grep -q -w avx2 /proc/cpuinfo 2>/dev/null; then echo Haswell
else echo ""; fi
