#!/usr/bin/env bash
# Create the mlgitops virtual environment from the hashed lock file, then install
# mlgitops itself (no dependencies) from the checkout of this action's ref.
#
# The environment lives in the runner's tool cache, keyed by the lock file's
# hash: a GitHub-hosted runner starts empty every job; a self-hosted runner reuses
# it across jobs. mlgitops itself is reinstalled every time (a second or two), so a
# reused environment never runs bots from another ref.
set -euo pipefail
source_dir="$(cd "${MLGITOPS_SOURCE:?}" && pwd)"
lock="$source_dir/requirements/actions.txt"
build_lock="$source_dir/requirements/actions-build.txt"
python="${MLGITOPS_PYTHON:-python3}"
key="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-$(cat "$build_lock" "$lock" | sha256sum | cut -c1-16)"
cache_root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}"
venv="$cache_root/mlgitops-venv/$key"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps)
  "${pip[@]}" -r "$build_lock"
  "${pip[@]}" --no-build-isolation -r "$lock"
  touch "$venv/.complete"
else
  echo "Reusing the locked environment $venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-deps --no-build-isolation --force-reinstall "$source_dir"
"$venv/bin/python" -m pip check
echo "$venv/bin" >> "$GITHUB_PATH"
{
  echo "DVC_NO_ANALYTICS=1"
  echo "ITERATIVE_DO_NOT_TRACK=1"
} >> "$GITHUB_ENV"
version="$("$venv/bin/mlgitops" --version | cut -d' ' -f2)"
echo "python=$venv/bin/python" >> "$GITHUB_OUTPUT"
echo "mlgitops-version=$version" >> "$GITHUB_OUTPUT"
echo "mlgitops $version installed in $venv"
