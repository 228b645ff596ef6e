package provider

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// tableMissing reports whether the environment lacks the table a search
// names ("" names none). It asks the command's metadata cache: one read of
// every table, shared with the resources of the same command, and none when
// they have read already.
func (d *auditRecordsDataSource) tableMissing(ctx context.Context, table string) (bool, error) {
	if table == "" {
		return false, nil
	}
	_, err := d.data.metadata.Table(ctx, table)
	if dataverse.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// reportMissingTable is the diagnostic for a search about a table the
// environment does not have: an error when the audit trail knows nothing of
// it either (most likely a misspelt name), a warning when it has rows (a
// deleted table keeps its audit history), which are returned.
func (d *auditRecordsDataSource) reportMissingTable(table string, rows int, diags *diag.Diagnostics) {
	attr := path.Root("entity_logical_name")
	if rows > 0 {
		diags.AddAttributeWarning(attr, "Table not in the environment",
			fmt.Sprintf("%s has no table named %q, but the audit trail has %d records about it (a deleted table keeps its "+
				"audit history); they are returned. New changes to it are not recorded.", d.data.environmentURL, table, rows))
		return
	}
	detail := fmt.Sprintf("%s has no table named %q, and the audit trail has no records about it.", d.data.environmentURL, table)
	if hint := didYouMean(table, d.data.metadata.LogicalNames()); hint != "" {
		detail += " " + hint
	}
	diags.AddAttributeError(attr, "Unknown table", detail+" Use the table's logical name: "+logicalNameHint+".")
}

// auditSearchID is the data source's id: the search's arguments as a
// sorted query string after "audits?", so that the same arguments give the
// same id. Lists are sorted, times are UTC and actions numeric, so that
// ["update", "create"] and ["create", "update"], or "create" and "1", agree.
func auditSearchID(q dataverse.AuditQuery, includeChanges bool) string {
	v := url.Values{}
	set := func(key, value string) {
		if value != "" {
			v.Set(key, value)
		}
	}
	set("entity_logical_name", q.EntityLogicalName)
	set("record_id", strings.ToLower(q.RecordID))
	set("user_id", strings.ToLower(q.UserID))
	for key, t := range map[string]*time.Time{"from": q.From, "to": q.To} {
		if t != nil {
			set(key, t.UTC().Format(time.RFC3339Nano))
		}
	}
	var ops []string
	for _, code := range q.Operations {
		ops = append(ops, dataverse.AuditOperations[code])
	}
	slices.Sort(ops)
	set("operations", strings.Join(slices.Compact(ops), ","))
	var actions []string
	for _, code := range slices.Sorted(slices.Values(q.Actions)) {
		actions = append(actions, strconv.Itoa(code))
	}
	set("actions", strings.Join(slices.Compact(actions), ","))
	set("limit", strconv.Itoa(q.Limit))
	if includeChanges {
		set("include_changes", "true")
	}
	// Encode sorts by key; keep the commas and colons readable.
	return "audits?" + strings.NewReplacer("%2C", ",", "%3A", ":").Replace(v.Encode())
}
