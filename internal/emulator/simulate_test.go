package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSimulationFollowsSettings(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	u := s.AddUser("Nancy Anderson")
	rows := func() int { return len(s.AuditRecords()) }

	// Organization auditing off: nothing at all, but records change.
	id, err := s.SimulateCreate(simStart, u, "account", map[string]any{"name": "Contoso"})
	mustNoErr(t, err)
	mustNoErr(t, s.SimulateUpdate(simStart, u, "account", id, map[string]any{"name": "Contoso 2"}))
	mustNoErr(t, s.SimulateSignIn(simStart, u, false))
	if n := rows(); n != 0 {
		t.Fatalf("org off: %d rows", n)
	}

	s.UpdateOrganization(func(o *Organization) { o.IsAuditEnabled = true })
	base := rows() // 104 + 107
	// The old value comes from the record's current values.
	mustNoErr(t, s.SimulateUpdate(simStart.Add(time.Minute), u, "account", id, map[string]any{"name": "Contoso 3"}))
	if rec := lastRecord(s); rows() != base+1 || rec.OldValues["name"] != "Contoso 2" || rec.NewValues["name"] != "Contoso 3" || rec.UserID != u.ID || rec.UserName != "Nancy Anderson" {
		t.Errorf("update row: %+v", rec)
	}
	// No change, no row.
	mustNoErr(t, s.SimulateUpdate(simStart.Add(time.Minute), u, "account", id, map[string]any{"name": "Contoso 3"}))
	// A column that is not audited (description, a memo, is off by default).
	mustNoErr(t, s.SimulateUpdate(simStart.Add(time.Minute), u, "account", id, map[string]any{"description": "x"}))
	if n := rows(); n != base+1 {
		t.Errorf("unaudited column wrote rows: %d", n-base)
	}
	// Audited and unaudited together: only the audited column is listed.
	mustNoErr(t, s.SimulateUpdate(simStart.Add(2*time.Minute), u, "account", id, map[string]any{"description": "y", "telephone1": "555"}))
	if rec := lastRecord(s); !reflect.DeepEqual(rec.NewValues, map[string]any{"telephone1": "555"}) || !reflect.DeepEqual(rec.OldValues, map[string]any{}) {
		t.Errorf("mixed update: %+v", rec)
	}
	// User access auditing off: no access rows.
	mustNoErr(t, s.SimulateSignIn(simStart, u, false))
	if lastRecord(s).Action == ActionUserAccessViaWeb {
		t.Error("access row with user access auditing off")
	}

	// Column audit off (published) for telephone1.
	mustNoErr(t, s.UpdateEntityAudit("account", func(st *EntityAuditState) {
		a := st.Attributes["telephone1"]
		a.IsAuditEnabled = false
		st.Attributes["telephone1"] = a
	}))
	before := rows()
	mustNoErr(t, s.SimulateUpdate(simStart.Add(3*time.Minute), u, "account", id, map[string]any{"telephone1": "556"}))
	if rows() != before {
		t.Error("column off: row written")
	}
	// Table audit off: nothing for that table, other tables still audited.
	mustNoErr(t, s.UpdateEntityAudit("account", func(st *EntityAuditState) { st.IsAuditEnabled = false }))
	before = rows()
	_, err = s.SimulateCreate(simStart.Add(4*time.Minute), u, "account", map[string]any{"name": "Fabrikam"})
	mustNoErr(t, err)
	mustNoErr(t, s.SimulateDelete(simStart.Add(4*time.Minute), u, "account", id))
	if rows() != before {
		t.Error("table off: rows written")
	}
	_, err = s.SimulateCreate(simStart.Add(4*time.Minute), u, "contact", map[string]any{"lastname": "Anderson"})
	mustNoErr(t, err)
	if rec := lastRecord(s); rows() != before+1 || rec.ObjectTypeCode != "contact" || rec.ObjectName != "Anderson" || rec.Action != ActionCreate || rec.CreatedOn != simStart.Add(4*time.Minute) {
		t.Errorf("contact create: %+v", rec)
	}

	// Unpublished changes do not count: switch contact auditing off with a
	// metadata PUT but do not publish.
	s.AddSecretClient("app", "secret")
	token := login(t, s, "app", "secret")
	putEntityDefinition(t, s, token, "contact", func(def map[string]any) { def["IsAuditEnabled"].(map[string]any)["Value"] = false })
	before = rows()
	_, err = s.SimulateCreate(simStart.Add(5*time.Minute), u, "contact", map[string]any{"lastname": "Baker"})
	mustNoErr(t, err)
	if rows() != before+1 {
		t.Errorf("unpublished table setting took effect: %d rows", rows()-before)
	}

	// Validation.
	for name, err := range map[string]error{
		"table": func() error { _, err := s.SimulateCreate(simStart, u, "nosuch", nil); return err }(),
		"column": func() error {
			_, err := s.SimulateCreate(simStart, u, "account", map[string]any{"nosuch": 1})
			return err
		}(),
		"type": func() error {
			_, err := s.SimulateCreate(simStart, u, "account", map[string]any{"revenue": "lots"})
			return err
		}(),
		"read-only": func() error {
			_, err := s.SimulateCreate(simStart, u, "account", map[string]any{"createdon": simStart})
			return err
		}(),
		"user":   s.SimulateSignIn(simStart, SimUser{ID: "00000000-0000-0000-0000-000000000001"}, false),
		"record": s.SimulateUpdate(simStart, u, "account", "00000000-0000-0000-0000-000000000001", map[string]any{"name": "x"}),
		"delete": s.SimulateDelete(simStart, u, "account", id),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSimulateSignInInterval(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	s.UpdateOrganization(func(o *Organization) {
		o.IsAuditEnabled, o.IsUserAccessAuditEnabled, o.UserAccessAuditingInterval = true, true, 2
	})
	u1, u2 := s.AddUser("One"), s.AddUser("Two")
	base := len(s.AuditRecords())
	for _, at := range []time.Duration{0, time.Hour, 119 * time.Minute, 2 * time.Hour, 3 * time.Hour, 4*time.Hour + time.Second} {
		mustNoErr(t, s.SimulateSignIn(simStart.Add(at), u1, at > 3*time.Hour))
	}
	mustNoErr(t, s.SimulateSignIn(simStart.Add(time.Hour), u2, false))
	var got []string
	for _, r := range s.AuditRecords()[base:] {
		if r.Operation != OperationAccess || r.ObjectTypeCode != "systemuser" || r.AccessInterval != 2 {
			t.Errorf("row %+v", r)
		}
		got = append(got, r.UserName+" "+r.CreatedOn.Sub(simStart).String()+" "+ActionLabels[r.Action])
	}
	want := []string{"One 0s User Access via Web", "One 2h0m0s User Access via Web", "One 4h0m1s User Access via Web Services", "Two 1h0m0s User Access via Web"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// activityTrace is a run's rows without ids (which are random).
func activityTrace(s *Server) []string {
	var out []string
	for _, r := range s.AuditRecords() {
		if r.Action >= 100 {
			continue
		}
		delete(r.OldValues, "ownerid") // the users' ids are random
		delete(r.NewValues, "ownerid")
		b, _ := json.Marshal([]any{r.CreatedOn, r.Action, r.ObjectTypeCode, r.ObjectName, r.UserName, r.AttributeMask, r.OldValues, r.NewValues})
		out = append(out, string(b))
	}
	return out
}

func TestSimulateActivityDeterministic(t *testing.T) {
	t.Parallel()
	run := func(seed int64) (ActivitySummary, []string) {
		s := startServer(t, Options{})
		s.UpdateOrganization(func(o *Organization) { o.IsAuditEnabled, o.IsUserAccessAuditEnabled = true, true })
		sum := s.SimulateActivity(ActivityOptions{Seed: seed, Actions: 300, From: simStart, To: simStart.Add(72 * time.Hour), Tables: []string{"account", "contact", "new_project"}, Users: 4})
		return sum, activityTrace(s)
	}
	sum1, trace1 := run(5)
	sum2, trace2 := run(5)
	sum3, _ := run(6)
	if sum1 != sum2 || !reflect.DeepEqual(trace1, trace2) {
		t.Errorf("not deterministic: %+v %+v", sum1, sum2)
	}
	if sum1 == sum3 {
		t.Errorf("seed ignored: %+v", sum1)
	}
	if sum1.Creates+sum1.Updates+sum1.Deletes+sum1.SignIns+sum1.Reads+sum1.Exports != 300 || sum1.Creates == 0 || sum1.Updates == 0 || sum1.Deletes == 0 || sum1.SignIns == 0 || sum1.Reads == 0 || sum1.Exports == 0 {
		t.Errorf("summary %+v", sum1)
	}
	// new_project is not audited by default (custom table): no rows for it.
	if sum1.AuditRowsWritten != len(trace1) || sum1.AuditRowsWritten == 0 {
		t.Errorf("rows %d, trace %d", sum1.AuditRowsWritten, len(trace1))
	}
	for _, tr := range trace1 {
		if strings.Contains(tr, `"new_project"`) {
			t.Errorf("unaudited table audited: %s", tr)
			break
		}
	}
}

func TestControlEndpoint(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{ControlKey: "k3y"})
	s.UpdateOrganization(func(o *Organization) { o.IsAuditEnabled = true })
	post := func(key, body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, s.EnvironmentURL()+ControlPath, strings.NewReader(body))
		if key != "" {
			req.Header.Set(ControlKeyHeader, key)
		}
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	status, body := post("k3y", `{"actions":50,"seed":3}`)
	var sum SimulateResponse
	_ = json.Unmarshal(body, &sum)
	if status != http.StatusOK || sum.Creates+sum.Updates+sum.Deletes+sum.SignIns+sum.Reads+sum.Exports != 50 || sum.AuditRowsWritten == 0 {
		t.Errorf("%d %s", status, body)
	}
	if status, _ := post("wrong", `{"actions":1}`); status != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", status)
	}
	if status, _ := post("", `{"actions":1}`); status != http.StatusUnauthorized {
		t.Errorf("no key: %d", status)
	}
	if status, _ := post("k3y", `{"actions":1,"tables":["nosuch"]}`); status != http.StatusBadRequest {
		t.Errorf("bad table: %d", status)
	}
	if n := len(s.Requests()); n != 0 || s.WriteCount() != 0 {
		t.Errorf("control requests counted: %v", s.Requests())
	}
	// Without a key the path is just an unknown URL.
	plain := startServer(t, Options{})
	req, _ := http.NewRequest(http.MethodPost, plain.EnvironmentURL()+ControlPath, strings.NewReader("{}"))
	req.Header.Set(ControlKeyHeader, "")
	resp, err := plain.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled: %d", resp.StatusCode)
	}
}
