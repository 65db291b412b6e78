#!/usr/bin/env bash
# Create the mlgitops virtual environment from the hashed lock files, then install
# mlgitops itself (no dependencies) from the checkout of this action's ref.
#
# pip (of the runner's Python) fetches uv, hash-checked, into a temporary folder; uv
# creates the environment and installs the build tools and every dependency,
# hash-checked, several times faster than pip. Sdists build with the locked
# setuptools (--no-build-isolation): nothing unpinned is downloaded.
#
# MLGITOPS_PROFILE chooses the lock: `train` (default; pull requests, monitoring),
# `attest` (+ model-signing: promotion signs releases) or `serve` (+ MLServer:
# deployment's gate). Each lock is complete: one hash-checked install, never two.
#
# The environment lives in the runner's tool cache, keyed by the Python version, the
# profile and the hash of its lock files: a GitHub-hosted runner starts empty every
# job, a self-hosted runner reuses it across jobs (one environment per profile).
# mlgitops itself is reinstalled every time (seconds), so a reused environment never
# runs the bots of another ref.
set -euo pipefail
source_dir="$(cd "${MLGITOPS_SOURCE:?}" && pwd)"
profile="${MLGITOPS_PROFILE:-train}"
case "$profile" in
  train) lock="$source_dir/requirements/actions.txt" ;;
  attest | serve) lock="$source_dir/requirements/actions-$profile.txt" ;;
  *)
    echo "::error title=Unknown profile::profile '$profile' is not one of train, attest, serve"
    exit 2
    ;;
esac
build_lock="$source_dir/requirements/actions-build.txt"
python="${MLGITOPS_PYTHON:-python3}"
python_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
key="$python_version-$profile-$(cat "$build_lock" "$lock" | sha256sum | cut -c1-16)"
venv="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/mlgitops-venv/$key"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  bootstrap="$(mktemp -d)"
  trap 'rm -rf "$bootstrap"' EXIT
  "$python" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes --no-deps --target "$bootstrap" -r "$build_lock"
  uv=("$bootstrap/bin/uv" pip install --quiet --python "$venv/bin/python")
  "$bootstrap/bin/uv" venv --quiet --python "$python" "$venv"
  "${uv[@]}" --require-hashes --no-deps -r "$build_lock"
  "${uv[@]}" --require-hashes --no-deps --no-build-isolation -r "$lock"
  touch "$venv/.complete"
else
  echo "Reusing the locked environment $venv"
fi
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" \
  --no-deps --no-build-isolation --reinstall "$source_dir"
"$venv/bin/uv" pip check --quiet --python "$venv/bin/python"
echo "$venv/bin" >> "$GITHUB_PATH"
{
  echo "DVC_NO_ANALYTICS=1"
  echo "ITERATIVE_DO_NOT_TRACK=1"
} >> "$GITHUB_ENV"
version="$("$venv/bin/mlgitops" --version | cut -d' ' -f2)"
echo "python=$venv/bin/python" >> "$GITHUB_OUTPUT"
echo "mlgitops-version=$version" >> "$GITHUB_OUTPUT"
echo "mlgitops $version installed in $venv (profile $profile, $(basename "$lock"))"
