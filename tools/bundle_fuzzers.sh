#!/usr/bin/env bash
# Bundle every fuzz target (fuzz/targets/NAME.py) as OSS-Fuzz's compile_python_fuzzer does:
# PyInstaller --onefile into OUT/NAME.pkg, an executable wrapper OUT/NAME (LD_PRELOADing
# the sanitizer runtime when OSS-Fuzz/ClusterFuzzLite put one beside it), and beside each
# fuzzer the generated NAME_seed_corpus.zip and NAME.dict (zrepl-conformance fuzz seeds).
# The one home of the bundling: .clusterfuzzlite/build.sh and `tox -e fuzz-bundle` call it.
#
#   tools/bundle_fuzzers.sh OUT [WORKDIR]      (python/pyinstaller: the ones on PATH)
set -euo pipefail
out=${1:?usage: tools/bundle_fuzzers.sh OUT [WORKDIR]}
work=${2:-${TMPDIR:-/tmp}/pyfuzzworkdir}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out" "$work"
out=$(cd "$out" && pwd)
# What the targets import lazily (importlib: atheris, pull-me in fakes.jobs, Hypothesis's own
# lazy modules) and the data files they read (golden transcripts, fixtures).
collect=()
for pkg in bytestreamrpc fakes fuzz recordings iut hypothesis atheris; do
    collect+=(--collect-submodules "$pkg")
done
for pkg in recordings fakes fuzz; do
    collect+=(--collect-data "$pkg")
done
names=$(python3 -c 'from fuzz.targets import names; print(" ".join(names()))')
for name in $names; do
    (cd "$work" && pyinstaller --log-level WARN --noconfirm --distpath "$out" \
        --workpath "$work/$name" --specpath "$work" --onefile --name "$name.pkg" \
        "${collect[@]}" "$repo/fuzz/targets/$name.py")
    cat >"$out/$name" <<WRAPPER
#!/bin/sh
# LLVMFuzzerTestOneInput for fuzzer detection.
this_dir=\$(dirname "\$0")
if [ -f "\$this_dir/sanitizer_with_fuzzer.so" ]; then
    LD_PRELOAD=\$this_dir/sanitizer_with_fuzzer.so \\
    ASAN_OPTIONS=\$ASAN_OPTIONS:symbolize=1:external_symbolizer_path=\$this_dir/llvm-symbolizer:detect_leaks=0 \\
    exec "\$this_dir/$name.pkg" "\$@"
fi
exec "\$this_dir/$name.pkg" "\$@"
WRAPPER
    chmod +x "$out/$name"
done
python3 -m zrepl_conformance fuzz seeds "$out" >/dev/null
