package provider_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// restoreSnapshot is what on_destroy = "restore" must bring back on account.
type restoreSnapshot struct {
	audit, retrieve, accountNumber, description bool
}

// accountRestoreConfig changes account's table and two columns and restores
// them on destroy.
const accountRestoreConfig = `
resource "dynamics365_entity_audit_settings" "account" {
  entity_logical_name    = "account"
  audit_enabled          = false
  retrieve_audit_enabled = true
  attributes             = { accountnumber = false, description = true }
  on_destroy             = "restore"
}
`

func accountSnapshot(t *testing.T, env *acctest.Env) restoreSnapshot {
	t.Helper()
	st, ok := env.Emulator.EntityAudit("account")
	if !ok {
		t.Fatal("the emulator has no account table")
	}
	return restoreSnapshot{
		audit:         st.IsAuditEnabled,
		retrieve:      st.IsRetrieveAuditEnabled,
		accountNumber: st.Attributes["accountnumber"].IsAuditEnabled,
		description:   st.Attributes["description"].IsAuditEnabled,
	}
}

// An apply interrupted (SIGINT) while it waits for the publish has already
// written the table; the originals it saw must survive into the state, so
// that after the next apply a destroy with on_destroy = "restore" brings
// back the values from before the first write, not the configured ones.
func TestAccCancelCreateKeepsOriginals(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnvWithOptions(t, emulator.Options{PublishBaseDuration: 3 * time.Second})
	configured := restoreSnapshot{audit: false, retrieve: true, accountNumber: false, description: true}
	originals := accountSnapshot(t, env)
	if originals.audit == configured.audit || originals.retrieve == configured.retrieve ||
		originals.accountNumber == configured.accountNumber || originals.description == configured.description {
		t.Fatalf("the test needs every configured value to differ from account's defaults %+v", originals)
	}
	tf, _ := acctest.CLIWorkdir(t, acctest.BuildProvider(t), env.ProviderConfig()+accountRestoreConfig)
	if err := tf.SetWaitDelay(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	// SIGINT once the write is done and the publish is running.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for env.Emulator.RequestCount("POST PublishXml") < 1 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		cancel()
	}()
	if err := tf.Apply(ctx); err == nil {
		t.Fatal("the interrupted apply reported success")
	}
	if got := accountSnapshot(t, env); got != configured {
		t.Fatalf("the interrupted apply did not write the configured values before the publish: %+v", got)
	}

	if err := tf.Apply(context.Background()); err != nil {
		t.Fatalf("apply after the interrupt: %v", err)
	}
	if changes, err := tf.Plan(context.Background()); err != nil || changes {
		t.Fatalf("plan after the second apply: changes %v, err %v", changes, err)
	}
	if err := tf.Destroy(context.Background()); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if got := accountSnapshot(t, env); got != originals {
		t.Errorf("after destroy account has %+v; on_destroy = \"restore\" should have brought back %+v", got, originals)
	}
	if !env.Emulator.IsPublished("account") {
		t.Error("the restored values are not published")
	}
}

// A Create whose publish fails (not an interrupt) is an error and leaves no
// state; the next apply finds the table already changed and cannot know the
// originals. A destroy with on_destroy = "restore" must say so instead of
// silently leaving the configured values.
func TestAccFailedPublishCreateWarnsOriginalsUnknown(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnvWithOptions(t, emulator.Options{PublishBaseDuration: -1})
	tf, _ := acctest.CLIWorkdir(t, acctest.BuildProvider(t), env.ProviderConfig()+accountRestoreConfig)
	env.Emulator.InjectFaults("POST PublishXml", emulator.Fault{Status: 400})
	if err := tf.Apply(context.Background()); err == nil {
		t.Fatal("the apply whose publish failed reported success")
	}
	if err := tf.Apply(context.Background()); err != nil {
		t.Fatalf("apply after the failed publish: %v", err)
	}
	var out bytes.Buffer
	tf.SetStdout(&out)
	tf.SetStderr(&out)
	if err := tf.Destroy(context.Background()); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	if !strings.Contains(text, "Original audit settings unknown for table account") {
		t.Fatalf("destroy did not warn that the originals are unknown:\n%s", out.String())
	}
	for _, name := range []string{"audit_enabled", "retrieve_audit_enabled", "attributes.accountnumber", "attributes.description"} {
		if !strings.Contains(text, name) {
			t.Errorf("the warning does not name %s:\n%s", name, out.String())
		}
	}
}
