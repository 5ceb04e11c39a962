#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: install the toolkit with its fuzz extra, then bundle every
# target of fuzz/targets/ with PyInstaller beside its seed corpus and dictionary, exactly as
# `tox -e fuzz-bundle` does (tools/bundle_fuzzers.sh is the one home of the bundling).
pip3 install --no-cache-dir '.[fuzz]'
tools/bundle_fuzzers.sh "$OUT" "$SRC/pyfuzzworkdir"
