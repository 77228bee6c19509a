#!/usr/bin/env bash
# Runs the numeric suites (engine, nn, optim, data, deploy, seed programs) under several CPU
# kernel families and thread counts, as machines with other processors would run them.
#
#   tools/test_portable.sh                 every profile below, with 1 and with 2 threads
#   PROFILES="haswell nehalem" THREADS=1 SUITES=tests/optim JOBS=1 tools/test_portable.sh [pytest args...]
#
# A profile forces every library that picks its kernels by CPU down to one instruction set:
#   numpy's OpenBLAS (OPENBLAS_CORETYPE), numpy's own SIMD loops (NPY_DISABLE_CPU_FEATURES),
#   PyTorch's ATen kernels (ATEN_CPU_CAPABILITY), PyTorch's MKL (MKL_ENABLE_INSTRUCTIONS; MKL ignores
#   it on AMD processors, so nehalem also sets MKL_CBWR=COMPATIBLE, MKL's SSE2 code path on any CPU),
#   oneDNN (ONEDNN_MAX_CPU_ISA) and FBGEMM, PyTorch's quantized kernels (FBGEMM_ENABLE_INSTRUCTIONS,
#   AVX2 and up only) -- the engine and the PyTorch oracle both move.
#   native       whatever this processor picks (the environment is left as it is)
#   haswell      AVX2 + FMA, no AVX-512 (x86-64-v3: e.g. AMD EPYC Rome/Milan, Intel Haswell..Alder Lake)
#   sandybridge  AVX, no FMA (numpy and ATen fall back to their SSE baseline loops)
#   nehalem      SSE4.2 only (x86-64-v2); MKL on its processor-independent path
# A family this processor cannot run is skipped with a note (forcing down always works; up does not).
# Every pass must be green; the script prints one line per pass and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PROFILES=${PROFILES:-native haswell sandybridge nehalem}
THREADS=${THREADS:-1 2}
SUITES=${SUITES:-tests/engine tests/nn tests/optim tests/data tests/deploy tests/seeds}
NPY_AVX512="X86_V4 AVX512_ICL AVX512_SPR"

profile_env() {  # prints the env assignments of profile $1, one per line
    case "$1" in
        native) ;;
        haswell)
            echo OPENBLAS_CORETYPE=Haswell; echo "NPY_DISABLE_CPU_FEATURES=$NPY_AVX512"
            echo ATEN_CPU_CAPABILITY=avx2; echo MKL_ENABLE_INSTRUCTIONS=AVX2; echo ONEDNN_MAX_CPU_ISA=AVX2
            echo FBGEMM_ENABLE_INSTRUCTIONS=AVX2 ;;
        sandybridge)
            echo OPENBLAS_CORETYPE=Sandybridge; echo "NPY_DISABLE_CPU_FEATURES=X86_V3 $NPY_AVX512"
            echo ATEN_CPU_CAPABILITY=default; echo MKL_ENABLE_INSTRUCTIONS=AVX; echo ONEDNN_MAX_CPU_ISA=AVX ;;
        nehalem)
            echo OPENBLAS_CORETYPE=Nehalem; echo "NPY_DISABLE_CPU_FEATURES=X86_V3 $NPY_AVX512"
            echo ATEN_CPU_CAPABILITY=default; echo MKL_ENABLE_INSTRUCTIONS=SSE4_2; echo MKL_CBWR=COMPATIBLE
            echo ONEDNN_MAX_CPU_ISA=SSE41 ;;
        *) echo "unknown profile '$1' (native, haswell, sandybridge, nehalem)" >&2; return 1 ;;
    esac
}

needs_flag() {  # the /proc/cpuinfo flag a profile needs
    case "$1" in haswell) echo avx2 ;; sandybridge) echo avx ;; nehalem) echo sse4_2 ;; *) echo "" ;; esac
}

summary=()
status=0
for prof in $PROFILES; do
    mapfile -t assigns < <(profile_env "$prof") || exit 2
    flag=$(needs_flag "$prof")
    if [ -n "$flag" ] && ! grep -qw "$flag" /proc/cpuinfo; then
        summary+=("$(printf '%-12s %-9s skipped: this CPU has no %s' "$prof" "-" "$flag")")
        continue
    fi
    for n in $THREADS; do
        log=$(mktemp)
        start=$(date +%s)
        # What each library really picked, so a pass cannot silently run on the wrong kernels.
        picked=$(env "${assigns[@]}" OMP_NUM_THREADS="$n" OPENBLAS_NUM_THREADS="$n" MKL_NUM_THREADS="$n" "$PY" -c '
import numpy, torch
from numpy._core._multiarray_umath import __cpu_features__ as f
from threadpoolctl import threadpool_info
blas = [i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"]
simd = "avx512" if f.get("X86_V4") else "avx2" if f.get("X86_V3") else "sse4.2"
print(f"openblas={blas[0] if blas else None} numpy-simd={simd} aten={torch.backends.cpu.get_cpu_capability()} torch-threads={torch.get_num_threads()}")
')
        echo "== $prof, $n thread(s): $picked"
        env "${assigns[@]}" OMP_NUM_THREADS="$n" OPENBLAS_NUM_THREADS="$n" MKL_NUM_THREADS="$n" \
            "$PY" -m pytest -q -n "${JOBS:-2}" $SUITES "$@" 2>&1 | tee "$log" | tail -n 25
        rc=${PIPESTATUS[0]}
        result=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -n 1 | tr -d '=')
        summary+=("$(printf '%-12s %-9s %4ss  rc=%s  %s  [%s]' "$prof" "${n}thr" "$(( $(date +%s) - start ))" "$rc" "$result" "$picked")")
        [ "$rc" = 0 ] || status=1
        rm -f "$log"
    done
done
echo
echo "portable passes:"
printf '  %s\n' "${summary[@]}"
exit $status
