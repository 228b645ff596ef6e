#!/usr/bin/env bash
# make demo: apply examples/demo to a fresh emulated environment, show that a
# second plan is empty, simulate a day of activity, print the settings and
# the audit trail; then start a second emulated tenant, apply
# examples/compliance-baseline to both tenants and print the coverage
# summary, write each tenant's evidence document to bin/evidence and print a
# one-line summary per tenant; plan an audit log deletion on tenant A and
# print its reviewed row count; stop the emulators. Non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
TERRAFORM="${TERRAFORM:-terraform}"
export CHECKPOINT_DISABLE=1

work=$(mktemp -d)
emulator_pid=""
emulator_b_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  if [ -n "$emulator_b_pid" ]; then kill "$emulator_b_pid" 2>/dev/null || true; wait "$emulator_b_pid" 2>/dev/null || true; fi
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

# Terraform prints the "Provider development overrides are in effect" warning
# on stdout (1.11), as a title and two paragraphs ending in "published
# releases.": drop that block and the blank lines before it, keep the rest.
# Should the wording change, the buffered lines are printed after 20 lines.
without_dev_overrides_warning() {
  awk '
    skip {
      held = held $0 "\n"
      if ($0 ~ /releases\.$/) { skip = 0; held = "" }
      else if (++n > 20) { printf "%s", held; skip = 0; held = "" }
      next
    }
    /^Warning: Provider development overrides are in effect$/ { skip = 1; n = 0; held = $0 "\n"; blanks = ""; next }
    /^$/ { blanks = blanks "\n"; next }
    { printf "%s", blanks; blanks = ""; print }
    END { printf "%s%s", held, blanks }
  '
}

cp -R examples/demo "$work/config"
cd "$work/config"

echo "==> terraform apply"
"$TERRAFORM" apply -auto-approve -input=false -no-color | without_dev_overrides_warning

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

echo "==> compliance baseline across two tenants (examples/compliance-baseline)"
echo "    starting a second emulated environment for tenant B"
"$root/bin/dynamics365-emulator" -env-file "$work/emulator_b.env" >"$work/emulator_b.out" 2>"$work/emulator_b.log" &
emulator_b_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/emulator_b.env" ] && break
  kill -0 "$emulator_b_pid" 2>/dev/null || { cat "$work/emulator_b.log" >&2; echo "emulator exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/emulator_b.env" ] || { echo "emulator did not start in 10 s" >&2; exit 1; }

# tenant A is the first emulator, tenant B the second, each in its own
# variables file in the shape of examples/compliance-baseline/README.md; the
# files hold the client secrets, so only this user may read them.
tenant_vars() { # $1 tenant name, $2 emulator env file
  (
    # shellcheck disable=SC1090
    . "$2"
    cat <<VARS
$1_environment_url     = "$DYNAMICS365_ENVIRONMENT_URL"
$1_tenant_id           = "$AZURE_TENANT_ID"
$1_client_id           = "$AZURE_CLIENT_ID"
$1_client_secret       = "$AZURE_CLIENT_SECRET"
$1_authority_host      = "$AZURE_AUTHORITY_HOST"
$1_ca_certificate_file = "$DYNAMICS365_CA_CERTIFICATE_FILE"
$1_graph_url           = "$DYNAMICS365_GRAPH_URL"
VARS
  )
}
(umask 077 && tenant_vars tenant_a "$work/emulator.env" >"$work/tenant_a.tfvars" && tenant_vars tenant_b "$work/emulator_b.env" >"$work/tenant_b.tfvars")
(. "$work/emulator_b.env" && echo "    tenant A: $(. "$work/emulator.env" && echo "$DYNAMICS365_ENVIRONMENT_URL"), tenant B: $DYNAMICS365_ENVIRONMENT_URL")

cp -R "$root/examples/compliance-baseline" "$work/baseline"
cd "$work/baseline"
# Offline, terraform get installs the local module (init would fail with dev_overrides).
"$TERRAFORM" get -no-color >/dev/null
echo "==> terraform apply (both tenants)"
"$TERRAFORM" apply -auto-approve -input=false -no-color -var-file="$work/tenant_a.tfvars" -var-file="$work/tenant_b.tfvars" >"$work/baseline_apply.txt" 2>&1 || { cat "$work/baseline_apply.txt"; exit 1; }
grep -E "^Apply complete|Warning: Check block" "$work/baseline_apply.txt" || true

# The baseline's checks assert locals computed from top-level data sources,
# and its evidence holds nothing that changes per plan: the plan of the
# unchanged tenants is empty.
echo "==> terraform plan (must be empty)"
set +e
"$TERRAFORM" plan -detailed-exitcode -input=false -no-color -var-file="$work/tenant_a.tfvars" -var-file="$work/tenant_b.tfvars" >"$work/baseline_plan.txt" 2>&1
code=$?
set -e
if [ "$code" -ne 0 ]; then
  cat "$work/baseline_plan.txt"
  echo "error: the second plan of the baseline is not empty (exit code $code)" >&2
  exit 1
fi
grep -E "^No changes" "$work/baseline_plan.txt"

echo "==> baseline coverage per tenant"
"$TERRAFORM" output -no-color coverage

# The evidence documents go next to the demo's output, one JSON file per
# tenant (DEMO_EVIDENCE_DIR, default bin/evidence).
evidence_dir="${DEMO_EVIDENCE_DIR:-$root/bin/evidence}"
mkdir -p "$evidence_dir"
for tenant in tenant_a tenant_b; do
  "$TERRAFORM" output -raw "${tenant}_evidence" >"$evidence_dir/${tenant}_evidence.json"
done
echo "==> evidence written to $evidence_dir (tenant_a_evidence.json, tenant_b_evidence.json)"
"$TERRAFORM" output -raw summary
echo

# A reviewed deletion: the plan of dynamics365_audit_log_deletion counts the
# audit rows it would delete (matching_rows), here tenant A's account and
# contact logs written before now. Plan only: nothing is deleted.
echo "==> plan of an audit log deletion on tenant A (reviewed count, nothing deleted)"
mkdir -p "$work/deletion"
cat >"$work/deletion/main.tf" <<TF
terraform {
  required_providers {
    dynamics365 = {
      source = "d365-audit/dynamics365"
    }
  }
}

provider "dynamics365" {}

resource "dynamics365_audit_log_deletion" "old_logs" {
  before               = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  entity_logical_names = ["account", "contact"]
}
TF
cd "$work/deletion"
"$TERRAFORM" plan -input=false -no-color >"$work/deletion_plan.txt" 2>&1 || { cat "$work/deletion_plan.txt"; exit 1; }
rows=$(sed -n 's/^ *+ matching_rows *= *\([0-9][0-9]*\).*/\1/p' "$work/deletion_plan.txt" | head -1)
lower=$(sed -n 's/^ *+ matching_rows_is_lower_bound *= *\([a-z]*\).*/\1/p' "$work/deletion_plan.txt" | head -1)
if [ -z "$rows" ]; then
  cat "$work/deletion_plan.txt"
  echo "error: the deletion plan does not show matching_rows" >&2
  exit 1
fi
[ "$lower" = "true" ] && rows="$rows or more"
echo "    the plan deletes $rows audit rows of account and contact created before $(grep -o 'before *= *"[^"]*"' "$work/deletion/main.tf" | cut -d'"' -f2)"

echo "==> demo finished"
