#!/usr/bin/env bash
# Creates .venv/ with zoocheck and every framework it converts from, in versions verified to work
# together (constraints.txt). Safe to run again: it reinstalls only when pyproject.toml,
# constraints.txt or this script changed.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
stamp=.venv/.zoocheck-setup
want=$(cat pyproject.toml constraints.txt setup.sh | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/zoocheck ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
.venv/bin/python -m pip install -q -c constraints.txt -e ".[all,ray,consumers,test]"
# mmpretrain, used only by the tests to prove zoocheck's mmpretrain-style forward against the real
# thing: its 'mmcv' requirement would trigger a source build, so it goes in with --no-deps beside
# mmengine and mmcv-lite (STACK.md).
# importlib-metadata, modelindex and einops are what `import mmpretrain.models` needs beyond those;
# mat4py what `import mmpretrain.datasets` (its transforms, for `zoocheck preprocess`) needs.
.venv/bin/python -m pip install -q -c constraints.txt mmengine mmcv-lite importlib-metadata modelindex einops mat4py
.venv/bin/python -m pip install -q -c constraints.txt --no-deps mmpretrain
# paddleclas: the tests load PaddleClas's own architecture and preprocessing files from it
# (tests/paddle_fixtures.py), and `zoocheck preprocess --src ppcls` imports its deploy operators.
# Its pins (numpy==1.24.4, opencv<=4.6, gast==0.3.3) and visualdl are not wanted; prettytable, six,
# scikit-learn and faiss-cpu are what `import paddleclas` needs beyond what is installed above.
.venv/bin/python -m pip install -q -c constraints.txt prettytable six scikit-learn faiss-cpu
.venv/bin/python -m pip install -q -c constraints.txt --no-deps paddleclas
echo "$want" > "$stamp"
