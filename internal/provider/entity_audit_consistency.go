package provider

import (
	"context"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// Dataverse caches table and column definitions: for about 30 s after a
// change, a read without the header Consistency: Strong can return the
// definition before it. Reads that will be written back always read
// strongly (internal/dataverse). Reads that only refresh or verify do so
// where the table was written recently: this resource keeps, in its private
// state, when it last wrote its table, and for a minute after that its
// refresh, plan check and apply read the table strongly, so that a
// `terraform plan` right after `terraform apply` (a new process) shows no
// drift.

const (
	// entityWrittenKey is the private state key of entityWriteRecord.
	entityWrittenKey = "entity_audit_settings_written"
	// strongReadAfterWrite is how long after a write reads are strong:
	// twice the documented ~30 s of the metadata cache.
	strongReadAfterWrite = time.Minute
)

// entityWriteRecord is when this resource last wrote its table.
type entityWriteRecord struct {
	At time.Time `json:"at"`
}

// requireLatestIfWrittenRecently makes the next read of the table strong
// when this resource wrote it less than strongReadAfterWrite ago.
func (r *entityAuditSettingsResource) requireLatestIfWrittenRecently(ctx context.Context, name string, private privateGetter) diag.Diagnostics {
	rec, diags := loadPrivate[entityWriteRecord](ctx, private, entityWrittenKey)
	if !rec.At.IsZero() && time.Since(rec.At) < strongReadAfterWrite {
		r.data.metadata.RequireLatest(name)
	}
	return diags
}

// rememberWrite records in the private state when this command wrote the
// table, if it did; an earlier record is kept otherwise.
func (r *entityAuditSettingsResource) rememberWrite(ctx context.Context, name string, private privateSetter) diag.Diagnostics {
	return r.rememberWriteSince(ctx, name, private, time.Time{})
}

// rememberAdoption records a Create as a write even when it wrote nothing:
// the table may have been changed moments before by someone else (a restore
// by an earlier destroy, a portal user), which Dataverse's cache hides from
// cached reads for ~30 s; the next command's refresh must not mistake that
// for drift.
func (r *entityAuditSettingsResource) rememberAdoption(ctx context.Context, name string, private privateSetter) diag.Diagnostics {
	return r.rememberWriteSince(ctx, name, private, time.Now())
}

// rememberWriteSince saves the later of the command's last write of the
// table and floor (zero: no floor), if there is one.
func (r *entityAuditSettingsResource) rememberWriteSince(ctx context.Context, name string, private privateSetter, floor time.Time) diag.Diagnostics {
	at, wrote := r.data.metadata.LastWrite(name)
	if !wrote || floor.After(at) {
		at, wrote = floor, !floor.IsZero()
	}
	if !wrote {
		return nil
	}
	return savePrivate(ctx, private, entityWrittenKey, entityWriteRecord{At: at.UTC()})
}

// runningOperationRE finds the operation holding the customization lock in
// Dataverse's message: "… because there is a previous [Import] running …".
var runningOperationRE = regexp.MustCompile(`there is (?:a previous|another) \[([^\]]+)\] running`)

// customizationLockDetail explains a change or publish that Dataverse kept
// refusing with the customization lock until the operation's time ran out.
func customizationLockDetail(err error) string {
	running := "another solution operation"
	if e, ok := dataverse.LockAnswer(err); ok {
		if m := runningOperationRE.FindStringSubmatch(e.Message); m != nil {
			running = "a solution operation ([" + m[1] + "])"
		}
	}
	return "Dataverse kept refusing the request while " + running + " held the environment's customization lock, and the " +
		"provider retried until this resource's timeout ended. A solution import, a publish or another customization " +
		"(in the maker portal, a pipeline or another Terraform run) was still running. Wait until it finishes — the " +
		"environment's Solution history lists imports — then run terraform apply again, or raise this resource's " +
		"timeouts (create, update, delete) to wait longer.\n\n" + err.Error()
}
