#!/usr/bin/env bash
# One command that installs everything on a fresh machine into ./.venv:
#   1. Debian packages the project needs (espeak-ng for TTS), only if missing;
#   2. the pinned CPU torch wheel first (so the project's torch range pulls no CUDA build);
#   3. the project, editable, with its dev and pipecat extras;
#   4. pipecat-ai itself with --no-deps (its metadata pins protobuf<7 and soundfile~=0.13.1; a
#      normal install would downgrade protobuf and break the generated gRPC code), unless
#      S2V_PIPECAT=0;
#   5. scripts/check_install.py: pip check (pipecat-ai's own lines excused), the pinned
#      protobuf/grpcio/soundfile versions, the generated code and pipecat importing.
# Safe to re-run: each step is skipped or is a no-op when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
PIPECAT_VERSION=1.14.0
S2V_PIPECAT=${S2V_PIPECAT:-1}

log() { printf '[setup] %s\n' "$*"; }

if ! ldconfig -p 2>/dev/null | grep -q 'libespeak-ng.so.1'; then
  log "installing Debian packages: espeak-ng libespeak-ng1"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq espeak-ng libespeak-ng1 >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip setuptools wheel 2>&1 | grep -v '^WARNING: Location' || true
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  log "installing torch==$TORCH_VERSION (CPU wheel)"
  "${PIP[@]}" install "torch==$TORCH_VERSION" 2>&1 | grep -v '^WARNING: Location' || true
fi
EXTRAS=dev
[ "$S2V_PIPECAT" != 0 ] && EXTRAS=dev,pipecat
log "installing speech2video with extras: $EXTRAS"
# (pip's note that an installed pipecat-ai wants protobuf<7 is expected: step 5 checks the pins)
"${PIP[@]}" install -e ".[$EXTRAS]" 2>&1 \
  | grep -v -e '^WARNING: Location' -e 'dependency resolver does not currently' -e '^pipecat-ai ' || true
if [ "$S2V_PIPECAT" != 0 ] && ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pipecat-ai') != '$PIPECAT_VERSION')" 2>/dev/null; then
  log "installing pipecat-ai==$PIPECAT_VERSION (--no-deps: its protobuf<7 pin would break gRPC)"
  "${PIP[@]}" install --no-deps "pipecat-ai==$PIPECAT_VERSION" 2>&1 | grep -v '^WARNING: Location' || true
fi
"$VENV/bin/python" scripts/check_install.py || { log "install check failed (above)"; exit 1; }
"$VENV/bin/python" -c "import speech2video" || { log "install failed: speech2video does not import"; exit 1; }
log "ready: $VENV ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
