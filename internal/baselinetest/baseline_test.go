// Package baselinetest runs the terraform test files of
// examples/compliance-baseline against two emulated tenants with the built
// provider binary through dev_overrides, with the commands the example's
// README.md gives: an in-process test server shares one Configure between
// aliased providers, so it cannot test two tenants.
package baselinetest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// exampleDir is examples/compliance-baseline in the repository.
func exampleDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "compliance-baseline")
}

// copyExample copies the example without local state, lock files or tfvars.
func copyExample(t *testing.T, dst string) {
	t.Helper()
	src := exampleDir(t)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		name := d.Name()
		if d.IsDir() {
			if name == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(name, ".tfvars") || strings.HasPrefix(name, "terraform.tfstate") || name == ".terraform.lock.hcl" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy example: %v", err)
	}
}

type tenant struct {
	name string
	env  *acctest.Env
}

func (tn tenant) fields() [][2]string {
	e := tn.env.Emulator
	return [][2]string{
		{"environment_url", e.EnvironmentURL()},
		{"tenant_id", e.TenantID()},
		{"client_id", tn.env.ClientID},
		{"authority_host", e.AuthorityHost()},
		{"ca_certificate_file", e.CAFile()},
		{"graph_url", e.GraphURL()},
	}
}

// tenantTFVars is a tenant's tfvars file as the emulator's -tfvars-file
// writes it: tenant_a_environment_url = "…", …, tenant_a_client_secret = "…".
func tenantTFVars(tn tenant) string {
	var b strings.Builder
	for _, f := range append(tn.fields(), [2]string{"client_secret", tn.env.ClientSecret}) {
		fmt.Fprintf(&b, "%s_%s = %q\n", tn.name, f[0], f[1])
	}
	return b.String()
}

// runREADME runs the terraform commands of the README block called block in
// dir and returns their output.
func runREADME(t *testing.T, dir string, env []string, block string) string {
	t.Helper()
	var out strings.Builder
	for _, args := range readmeTerraformCommands(t, block) {
		out.WriteString(run(t, dir, env, args...))
	}
	return out.String()
}

func run(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, acctest.TerraformPath(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("terraform %s (%s, %s):\n%s", strings.Join(args, " "), filepath.Base(dir), time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func countActions(e *emulator.Server, action int, table string) int {
	n := 0
	for _, r := range e.AuditRecords() {
		if r.Action == action && (table == "" || r.ObjectTypeCode == table) {
			n++
		}
	}
	return n
}

// TestBaselineTwoTenants runs the module's and the root example's terraform
// test files against two emulated tenants, then checks what each tenant
// saw: the baseline was applied (audit rows of the settings changes, one
// publish of its tables) and, at destroy, restored.
func TestBaselineTwoTenants(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()

	providerDir := acctest.BuildProvider(t)
	a := tenant{"tenant_a", acctest.NewEnv(t)}
	b := tenant{"tenant_b", acctest.NewEnv(t)}
	beforeB := b.env.Emulator.Organization()
	tablesBefore := map[string]emulator.EntityAuditState{}
	for _, name := range []string{"account", "contact", "lead", "opportunity"} {
		st, ok := b.env.Emulator.EntityAudit(name)
		if !ok {
			t.Fatalf("the emulator has no %s table", name)
		}
		tablesBefore[name] = st
	}
	// Make the baseline do something: tenant A starts with auditing off and
	// no retention ever set (null), tenant B with contact's table auditing off.
	a.env.Emulator.UpdateOrganization(func(o *emulator.Organization) {
		o.IsAuditEnabled, o.IsReadAuditEnabled, o.IsUserAccessAuditEnabled = false, false, false
		o.RetentionNotSet = true
	})
	if err := b.env.Emulator.UpdateEntityAudit("contact", func(st *emulator.EntityAuditState) { st.IsAuditEnabled = false }); err != nil {
		t.Fatal(err)
	}
	beforeA := a.env.Emulator.Organization()
	a.env.Emulator.ResetCounters()
	b.env.Emulator.ResetCounters()
	rowsA, rowsB := len(a.env.Emulator.AuditRecords()), len(b.env.Emulator.AuditRecords())

	work := t.TempDir()
	rc := acctest.DevOverridesCLIConfig(t, work, providerDir)
	example := filepath.Join(work, "compliance-baseline")
	copyExample(t, example)
	// The README's commands without colours, so that the output can be checked.
	env := []string{"TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
		"TF_CLI_ARGS_test=-no-color", "TF_CLI_ARGS_get=-no-color"}
	// One tfvars file per tenant, where the README's emulators write them.
	for _, tn := range []tenant{a, b} {
		if err := os.WriteFile(filepath.Join(example, tfvarsFile(tn.name)), []byte(tenantTFVars(tn)), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// The module's tests: tenant A and tenant B through two aliased
	// providers of the test file, plus the refused inputs.
	out := runREADME(t, example, env, moduleBlock)
	if !strings.Contains(out, "12 passed, 0 failed") {
		t.Errorf("module tests: want 12 passed, 0 failed")
	}
	if !strings.Contains(out, "retention_period_days had no value (null") {
		t.Errorf("module tests: destroy did not warn that tenant A's null retention stays set")
	}

	// After the module tests (destroyed with on_destroy = "restore"): both
	// tenants were changed and published, then put back.
	checkTenant := func(tn tenant, before emulator.Organization, rowsBefore int, wantOrgChange bool) {
		t.Helper()
		e := tn.env.Emulator
		if e.RequestCount("PUT EntityDefinitions") == 0 {
			t.Errorf("%s: no table definition was written", tn.name)
		}
		if e.PublishCount() == 0 {
			t.Errorf("%s: nothing was published", tn.name)
		}
		// Destroy restores with publish = false and a publish resource
		// cannot be undone: the restored table settings are saved but wait
		// for the next publish.
		if u := e.UnpublishedEntities(); len(u) > 0 {
			t.Logf("%s: restored but unpublished after destroy: %v", tn.name, u)
		}
		if wantOrgChange && countActions(e, emulator.ActionAuditChangeAtOrgLevel, "") == 0 {
			t.Errorf("%s: no organization audit change in the audit trail", tn.name)
		}
		if got := len(e.AuditRecords()); got <= rowsBefore {
			t.Errorf("%s: audit trail did not grow (%d rows before, %d after)", tn.name, rowsBefore, got)
		}
		if got := e.Organization(); got != before {
			t.Errorf("%s: organization not restored after destroy:\n got %+v\nwant %+v", tn.name, got, before)
		}
		t.Logf("%s: %d metadata PUTs, %d publishes %v, %d new audit rows, organization restored to %+v",
			tn.name, e.RequestCount("PUT EntityDefinitions"), e.PublishCount(), e.PublishedTables(), len(e.AuditRecords())-rowsBefore, e.Organization())
	}
	// Tenant A's retention was null: restore cannot write a null back and
	// leaves the baseline's 2555 days.
	restoredA := beforeA
	restoredA.RetentionNotSet, restoredA.AuditRetentionPeriodV2 = false, 2555
	checkTenant(a, restoredA, rowsA, true)
	checkTenant(b, beforeB, rowsB, true)
	if n := countActions(a.env.Emulator, emulator.ActionAuditEnabled, ""); n == 0 {
		t.Error("tenant_a: auditing was never started")
	}
	// Tenant B's baseline (lead, the sales area) and tenant A's (account,
	// contact) went to the right environments.
	published := func(e *emulator.Server) string { return fmt.Sprint(e.PublishedTables()) }
	if p := published(a.env.Emulator); !strings.Contains(p, "account") || strings.Contains(p, "opportunity") {
		t.Errorf("tenant_a published %s", p)
	}
	if p := published(b.env.Emulator); !strings.Contains(p, "opportunity") || !strings.Contains(p, "lead") {
		t.Errorf("tenant_b published %s", p)
	}

	// The root example: both tenants from one configuration with aliased
	// providers. terraform get installs the local module offline.
	a.env.Emulator.ResetCounters()
	b.env.Emulator.ResetCounters()
	out = runREADME(t, example, env, rootBlock)
	if !strings.Contains(out, "1 passed, 0 failed") {
		t.Errorf("root example tests: want 1 passed, 0 failed")
	}
	for _, tn := range []tenant{a, b} {
		if tn.env.Emulator.PublishCount() == 0 {
			t.Errorf("%s: the root example published nothing", tn.name)
		}
	}
	for name, st := range tablesBefore {
		if name == "contact" {
			continue
		}
		if got, _ := b.env.Emulator.EntityAudit(name); got.IsAuditEnabled != st.IsAuditEnabled || got.IsRetrieveAuditEnabled != st.IsRetrieveAuditEnabled {
			t.Errorf("tenant_b: %s not restored: %+v, was %+v", name, got, st)
		}
	}
	// The root example turned contact's auditing on in tenant B and, at
	// destroy, back off.
	if countActions(b.env.Emulator, emulator.ActionEntityAuditStarted, "contact") == 0 {
		t.Error("tenant_b: the root example never turned contact's auditing on")
	}
	if st, _ := b.env.Emulator.EntityAudit("contact"); st.IsAuditEnabled {
		t.Error("tenant_b: contact's table auditing was not restored to off")
	}
	if secret := a.env.ClientSecret; strings.Contains(out, secret) {
		t.Error("terraform test printed tenant A's client secret")
	}

	// The evidence holds nothing that changes from one plan to the next:
	// after an apply, a plan of the unchanged tenants is empty (exit code 0
	// of -detailed-exitcode; run fails the test on 2).
	vars := []string{"-no-color", "-input=false", "-var-file=" + tfvarsFile(a.name), "-var-file=" + tfvarsFile(b.name)}
	run(t, example, env, append([]string{"apply", "-auto-approve"}, vars...)...)
	run(t, example, env, append([]string{"plan", "-detailed-exitcode"}, vars...)...)
	summary := run(t, example, env, "output", "-raw", "summary")
	if !strings.Contains(summary, "tenant_a "+a.env.Emulator.EnvironmentURL()+": COMPLIANT") || !strings.Contains(summary, "tenant_b "+b.env.Emulator.EnvironmentURL()+": COMPLIANT") {
		t.Errorf("summary after apply:\n%s", summary)
	}
	run(t, example, env, append([]string{"destroy", "-auto-approve"}, vars...)...)
}
