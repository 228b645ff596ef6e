#!/usr/bin/env bash
# make demo: apply examples/demo to a fresh emulated environment, show that a
# second plan is empty, simulate a day of activity, print the settings and
# the audit trail, stop the emulator. Non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
TERRAFORM="${TERRAFORM:-terraform}"
export CHECKPOINT_DISABLE=1

work=$(mktemp -d)
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting the Dataverse emulator"
"$root/bin/dynamics365-emulator" -env-file "$work/emulator.env" >"$work/emulator.out" 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/emulator.env" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$work/emulator.log" >&2; echo "emulator exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/emulator.env" ] || { echo "emulator did not start in 10 s" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/emulator.env"
echo "    environment: $DYNAMICS365_ENVIRONMENT_URL (login at $AZURE_AUTHORITY_HOST)"

# Offline, terraform init fails with dev_overrides: plan and apply work without it.
cat >"$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "d365-audit/dynamics365" = "$root/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc"
cp -R examples/demo "$work/config"
cd "$work/config"

echo "==> terraform apply"
"$TERRAFORM" apply -auto-approve -input=false -no-color 2> >(grep -v -e 'Provider development overrides' >&2)

echo "==> terraform plan (must be empty)"
set +e
"$TERRAFORM" plan -detailed-exitcode -input=false -no-color >"$work/plan.txt" 2>&1
code=$?
set -e
if [ "$code" -ne 0 ]; then
  cat "$work/plan.txt"
  echo "error: the second plan is not empty (exit code $code)" >&2
  exit 1
fi
grep -E "No changes" "$work/plan.txt"

echo "==> users work in the environment for a day (simulated activity: creates, updates, deletes, sign-ins, reads, exports)"
"$root/bin/dynamics365-emulator" simulate -env-file "$work/emulator.env" -actions 300 -tables account,contact,new_project

echo "==> terraform apply -refresh-only (re-reads the audit trail)"
"$TERRAFORM" apply -refresh-only -auto-approve -input=false -no-color >"$work/refresh.txt" 2>&1 || { cat "$work/refresh.txt"; exit 1; }

echo "==> settings now in the environment, and what the audit trail shows"
"$TERRAFORM" output -no-color
echo "==> demo finished"
