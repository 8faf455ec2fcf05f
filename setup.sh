#!/usr/bin/env bash
# Creates .venv/ with zoocheck and every framework it converts from, in versions verified to work
# together (constraints.txt). Safe to run again: it reinstalls only when pyproject.toml,
# constraints.txt or this script changed. Prints one line per step; what the tools print goes to a
# log file, shown (the failed step's part) only when a step fails.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
stamp=.venv/.zoocheck-setup
want=$(cat pyproject.toml constraints.txt setup.sh | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/zoocheck ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
log=$(mktemp "${TMPDIR:-/tmp}/zoocheck-setup.XXXXXX")

# step DESCRIPTION COMMAND...: one line of progress; on failure the command's output and the log's path
step() {
  local what=$1 start
  shift
  echo "setup: $what"
  start=$(wc -c <"$log")
  if ! "$@" >>"$log" 2>&1; then
    echo "setup: failed: $what" >&2
    tail -c +"$((start + 1))" "$log" >&2
    echo "setup: the whole log: $log" >&2
    exit 1
  fi
}

pip_install() {
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt "$@"
}

# mmpretrain, used only by the tests to prove zoocheck's mmpretrain-style forward against the real
# thing: its 'mmcv' requirement would trigger a source build, so it goes in with --no-deps beside
# mmengine and mmcv-lite (STACK.md).
# importlib-metadata, modelindex and einops are what `import mmpretrain.models` needs beyond those;
# mat4py what `import mmpretrain.datasets` (its transforms, for `zoocheck preprocess`) needs.
mmpretrain_for_tests() {
  pip_install mmengine mmcv-lite importlib-metadata modelindex einops mat4py && pip_install --no-deps mmpretrain
}

# paddleclas: the tests load PaddleClas's own architecture and preprocessing files from it
# (tests/paddle_fixtures.py), and `zoocheck preprocess --src ppcls` imports its deploy operators.
# Its pins (numpy==1.24.4, opencv<=4.6, gast==0.3.3) and visualdl are not wanted; prettytable, six,
# scikit-learn and faiss-cpu are what `import paddleclas` needs beyond what is installed above.
paddleclas_for_tests() {
  pip_install prettytable six scikit-learn faiss-cpu && pip_install --no-deps paddleclas
}

[ -x .venv/bin/python ] || step "creating .venv" "$PYTHON" -m venv .venv
step "updating pip, setuptools and wheel" .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
step "installing zoocheck and its frameworks (constraints.txt)" pip_install -e ".[all,ray,consumers,test]"
step "installing mmpretrain (for the tests)" mmpretrain_for_tests
step "installing paddleclas (for the tests and zoocheck preprocess --src ppcls)" paddleclas_for_tests
echo "$want" > "$stamp"
rm -f "$log"
