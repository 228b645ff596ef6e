package dataverse_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// A column change works whether or not the column items of RetrieveEntity /
// RetrieveAllEntities carry "@odata.type" (not documented either way): the
// PUT's type then comes from AttributeTypeName (jobtitle, StringType) or,
// for a type the AttributeTypeDisplayName page does not map (parentcustomerid,
// CustomerType), from a GET of the column. Every other property is kept.
func TestColumnChangeWithAndWithoutItemTypes(t *testing.T) {
	t.Parallel()
	for _, untyped := range []bool{false, true} {
		for _, col := range []string{"jobtitle", "parentcustomerid"} {
			t.Run(fmt.Sprintf("untyped=%t/%s", untyped, col), func(t *testing.T) {
				t.Parallel()
				srv, c := emulatorWith(t, emulator.Options{FunctionAttributeItemsUntyped: untyped})
				before, _ := srv.AttributeDefinitionJSON("contact", col)
				m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
				current, err := m.Entity(t.Context(), "contact")
				if err != nil {
					t.Fatal(err)
				}
				want := !current.Attributes[col].IsAuditEnabled.Value
				srv.ResetCounters()
				if _, err := m.ApplyColumnAudit(t.Context(), dataverse.ColumnAuditChange{Table: "contact",
					Columns: map[string]bool{col: want}, Current: current}); err != nil {
					t.Fatal(err)
				}
				after, _ := srv.AttributeDefinitionJSON("contact", col)
				var b, a map[string]any
				_ = json.Unmarshal(before, &b)
				_ = json.Unmarshal(after, &a)
				b["IsAuditEnabled"].(map[string]any)["Value"] = want
				if !reflect.DeepEqual(a, b) {
					t.Errorf("definition not kept:\nbefore %s\nafter  %s", before, after)
				}
				// The column GET is the last resort: only an untyped item of a
				// type the page does not map needs it.
				wantGets := 0
				if untyped && col == "parentcustomerid" {
					wantGets = 1
				}
				if n := srv.RequestCount("GET EntityDefinitions"); n != wantGets {
					t.Errorf("%d column GETs, want %d", n, wantGets)
				}
			})
		}
	}
}

// emulatorWith starts an emulator with opts and a quick client for it.
func emulatorWith(t *testing.T, opts emulator.Options) (*emulator.Server, *dataverse.Client) {
	t.Helper()
	srv := startEmulator(t, opts)
	return srv, quickClient(t, srv)
}

// newestAuditChanges is what RetrieveAuditDetails reads for the audit row
// srv stored last.
func newestAuditChanges(t *testing.T, srv *emulator.Server, c *dataverse.Client) []dataverse.AuditChange {
	t.Helper()
	rows := srv.AuditRecords()
	id := rows[len(rows)-1].AuditID
	got, err := c.RetrieveAuditDetails(t.Context(), []string{id}, dataverse.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got[id]
}

// auditColumns turns on organization auditing and the auditing of table and
// of its columns cols.
func auditColumns(t *testing.T, srv *emulator.Server, table string, cols ...string) {
	t.Helper()
	srv.UpdateOrganization(func(o *emulator.Organization) { o.IsAuditEnabled = true })
	if err := srv.UpdateEntityAudit(table, func(s *emulator.EntityAuditState) {
		s.IsAuditEnabled = true
		for _, col := range cols {
			a := s.Attributes[col]
			a.IsAuditEnabled = true
			s.Attributes[col] = a
		}
	}); err != nil {
		t.Fatal(err)
	}
}
