package provider_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// SIGINT during an apply (what Ctrl-C does) stops it promptly; the state it
// leaves is reconciled by the next apply, after which the plan is empty.
func TestAccCancelApply(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnvWithOptions(t, emulator.Options{PublishBaseDuration: 1500 * time.Millisecond})
	tables := env.ChangeableTables(t, 20)
	tf, work := acctest.CLIWorkdir(t, acctest.BuildProvider(t), env.ProviderConfig()+acctest.TablesConfig(tables, "retrieve_audit_enabled = true"))
	if err := tf.SetWaitDelay(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt time.Time
	go func() {
		for env.Emulator.RequestCount("PUT EntityDefinitions") < 5 {
			time.Sleep(20 * time.Millisecond)
		}
		cancelledAt = time.Now()
		cancel()
	}()
	err := tf.Apply(ctx)
	stopped := time.Since(cancelledAt)
	if err == nil {
		t.Fatal("the interrupted apply reported success")
	}
	changedBeforeRerun := 0
	for _, name := range tables {
		if st, _ := env.Emulator.EntityAudit(name); st.IsRetrieveAuditEnabled {
			changedBeforeRerun++
		}
	}
	t.Logf("apply interrupted after %d metadata PUTs; terraform exited %s after SIGINT; %d of %d tables changed",
		env.Emulator.RequestCount("PUT EntityDefinitions"), stopped.Round(time.Millisecond), changedBeforeRerun, len(tables))
	if changedBeforeRerun == len(tables) {
		t.Errorf("every table was changed: the interrupt did not stop the apply")
	}
	if _, err := os.Stat(filepath.Join(work, "terraform.tfstate")); err != nil {
		t.Errorf("no state after the interrupted apply: %v", err)
	}

	// The next apply reconciles; then nothing is left to do.
	if err := tf.Apply(context.Background()); err != nil {
		t.Fatalf("apply after the interrupt: %v", err)
	}
	changes, err := tf.Plan(context.Background())
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if changes {
		t.Error("the plan after the second apply is not empty")
	}
	var unpublished []string
	for _, name := range tables {
		st, _ := env.Emulator.EntityAudit(name)
		if !st.IsRetrieveAuditEnabled {
			t.Errorf("table %s was not changed by the second apply", name)
		}
		if !env.Emulator.IsPublished(name) {
			unpublished = append(unpublished, name)
		}
	}
	if len(unpublished) > 0 {
		t.Errorf("tables left unpublished: %s", strings.Join(unpublished, ", "))
	}
}
