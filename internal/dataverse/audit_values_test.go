package dataverse_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// How RetrieveAuditDetails writes old and new values beyond Microsoft's
// example is not documented: money with or without its trailing zeros,
// FormattedValue annotations or none. The client reads both: the same
// columns change, numbers keep their value, annotations are no columns.
func TestRetrieveAuditDetailsValueStyles(t *testing.T) {
	t.Parallel()
	changes := map[bool]map[string]dataverse.AuditChange{}
	for _, annotated := range []bool{false, true} {
		srv, c := emulatorWith(t, emulator.Options{AnnotatedAuditValues: annotated})
		auditColumns(t, srv, "account", "name", "revenue", "creditonhold")
		user := srv.AddUser("Nancy Anderson")
		at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
		id, err := srv.SimulateCreate(at, user, "account", map[string]any{"name": "Contoso", "revenue": 88800, "creditonhold": false})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.SimulateUpdate(at.Add(time.Hour), user, "account", id, map[string]any{"revenue": 12.5, "creditonhold": true}); err != nil {
			t.Fatal(err)
		}
		changes[annotated] = map[string]dataverse.AuditChange{}
		for _, ch := range newestAuditChanges(t, srv, c) {
			changes[annotated][ch.Attribute] = ch
		}
	}
	plain, annotated := changes[false], changes[true]
	if len(plain) != 2 || len(plain) != len(annotated) {
		t.Fatalf("changed columns differ: %v and %v", plain, annotated)
	}
	for attr, p := range plain {
		a, ok := annotated[attr]
		if !ok {
			t.Errorf("%s missing with annotated values", attr)
			continue
		}
		for _, side := range []struct {
			name string
			p, a *string
		}{{"old", p.OldValue, a.OldValue}, {"new", p.NewValue, a.NewValue}} {
			if (side.p == nil) != (side.a == nil) {
				t.Errorf("%s %s value: %v and %v", attr, side.name, side.p, side.a)
				continue
			}
			if side.p == nil || *side.p == *side.a {
				continue
			}
			pf, err1 := strconv.ParseFloat(*side.p, 64)
			af, err2 := strconv.ParseFloat(*side.a, 64)
			if err1 != nil || err2 != nil || pf != af {
				t.Errorf("%s %s value: %q and %q", attr, side.name, *side.p, *side.a)
			}
		}
	}
	if r := plain["revenue"]; r.NewValue == nil || fmt.Sprint(*r.NewValue) != "12.5000" {
		t.Errorf("revenue as stored: %+v", r)
	}
	if r := annotated["revenue"]; r.NewValue == nil || *r.NewValue != "12.5" {
		t.Errorf("revenue without trailing zeros: %+v", r)
	}
}
