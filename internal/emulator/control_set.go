package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/names"
)

// POST ControlSetPath changes audit settings behind the client's back, as
// an administrator would in the admin center or the maker portal: through
// UpdateOrganization, UpdateEntityAudit and SaveEntityAudit, so audit rows
// are attributed to AdminUserID and no request counter, fault rule or
// service protection limit sees it. It exists for drift demos and tests
// run against the standalone emulator ("dynamics365-emulator set").

// ControlSetPath is the test-only endpoint that changes audit settings
// behind the client's back (see SetRequest).
const ControlSetPath = "/_emulator/set"

// serveControlRequest routes a control request: POST ControlSetPath here,
// the others to serveControl.
func (s *Server) serveControlRequest(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != ControlSetPath {
		s.serveControl(w, r)
		return
	}
	if !s.controlKeyMatches(w, r) {
		return
	}
	body, ok := readControlPost(w, r)
	if !ok {
		return
	}
	s.serveControlSet(w, body)
}

// Control set targets (SetRequest.Target).
const (
	SetTargetOrganization = "organization"
	SetTargetTable        = "table"
	SetTargetColumn       = "column"
)

// SetRequest is the JSON body of POST ControlSetPath.
type SetRequest struct {
	// Target is SetTargetOrganization, SetTargetTable or SetTargetColumn.
	Target string `json:"target"`
	// Table is the table's logical name (table and column targets);
	// Column the column's (column target).
	Table  string `json:"table,omitempty"`
	Column string `json:"column,omitempty"`
	// Settings maps setting names, as the provider's attributes name them
	// (see SetSettingNames), to values as text: "true", "false", a whole
	// number, or "null" (retention_period_days only: never set).
	Settings map[string]string `json:"settings"`
	// Publish publishes the table once the change is saved (table and
	// column targets). Without it the change is saved but not published,
	// like a maker who forgets to publish: the published settings, which
	// decide what is audited, stay as they were. Organization settings
	// take effect when written; Publish is refused for them.
	Publish bool `json:"publish,omitempty"`
}

// SetResponse is the answer of POST ControlSetPath: the target's settings
// after the change (for tables and columns, as saved) and whether its
// table has changes that are saved but not published.
type SetResponse struct {
	Settings    map[string]string `json:"settings"`
	Unpublished bool              `json:"unpublished,omitempty"`
}

// SetSettingNames lists the setting names each target accepts.
var SetSettingNames = map[string][]string{
	SetTargetOrganization: {"audit_enabled", "read_audit_enabled", "retention_period_days", "user_access_audit_enabled", "user_access_audit_interval_hours"},
	SetTargetTable:        {"audit_enabled", "can_be_changed", "retrieve_audit_enabled", "retrieve_multiple_audit_enabled"},
	SetTargetColumn:       {"audit_enabled", "can_be_changed"},
}

// setError is a refused SetRequest (400).
type setError struct{ msg string }

func (e *setError) Error() string { return e.msg }

func (s *Server) serveControlSet(w http.ResponseWriter, body []byte) {
	var req SetRequest
	if err := json.Unmarshal(body, &req); err != nil {
		controlError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	resp, err := s.controlSet(req)
	if err != nil {
		controlError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) controlSet(req SetRequest) (SetResponse, error) {
	names, ok := SetSettingNames[req.Target]
	if !ok {
		return SetResponse{}, &setError{fmt.Sprintf("unknown target %q: use %s, %s or %s", req.Target, SetTargetOrganization, SetTargetTable, SetTargetColumn)}
	}
	if len(req.Settings) == 0 {
		if req.Target == SetTargetOrganization || !req.Publish {
			return SetResponse{}, &setError{fmt.Sprintf("no setting given: name one or more of %s as name=value", strings.Join(names, ", "))}
		}
	}
	keys := make([]string, 0, len(req.Settings))
	for k := range req.Settings {
		if !slices.Contains(names, k) {
			return SetResponse{}, &setError{fmt.Sprintf("unknown %s setting %q: use %s", req.Target, k, strings.Join(names, ", "))}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if req.Target == SetTargetOrganization {
		if req.Publish {
			return SetResponse{}, &setError{"organization settings take effect when written: -publish applies to tables and columns only"}
		}
		return s.controlSetOrganization(keys, req.Settings)
	}
	return s.controlSetTable(req, keys)
}

// parseSetBool parses a boolean setting value.
func parseSetBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &setError{fmt.Sprintf("%s=%s: want true or false", name, v)}
	}
	return b, nil
}

func (s *Server) controlSetOrganization(keys []string, settings map[string]string) (SetResponse, error) {
	var edits []func(*Organization)
	for _, k := range keys {
		v := settings[k]
		switch k {
		case "retention_period_days":
			if v == "null" {
				edits = append(edits, func(o *Organization) { o.RetentionNotSet, o.AuditRetentionPeriodV2 = true, 0 })
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || (n != -1 && (n < 1 || n > 365000)) {
				return SetResponse{}, &setError{fmt.Sprintf("%s=%s: want -1 (forever), 1 to 365000 days, or null", k, v)}
			}
			edits = append(edits, func(o *Organization) { o.RetentionNotSet, o.AuditRetentionPeriodV2 = false, n })
		case "user_access_audit_interval_hours":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return SetResponse{}, &setError{fmt.Sprintf("%s=%s: want a whole number of hours, at least 1", k, v)}
			}
			edits = append(edits, func(o *Organization) { o.UserAccessAuditingInterval = n })
		default:
			b, err := parseSetBool(k, v)
			if err != nil {
				return SetResponse{}, err
			}
			edits = append(edits, func(o *Organization) { *organizationFlags(o)[k] = b })
		}
	}
	s.UpdateOrganization(func(o *Organization) {
		for _, e := range edits {
			e(o)
		}
	})
	o := s.Organization()
	retention := strconv.Itoa(o.AuditRetentionPeriodV2)
	if o.RetentionNotSet {
		retention = "null"
	}
	out := formatFlags(organizationFlags(&o))
	out["retention_period_days"] = retention
	out["user_access_audit_interval_hours"] = strconv.Itoa(o.UserAccessAuditingInterval)
	return SetResponse{Settings: out}, nil
}

// organizationFlags, tableFlags and columnFlags name the boolean settings of
// each control set target (SetSettingNames), each a pointer into the state it
// sets: one table serves both the edit and the answer.
func organizationFlags(o *Organization) map[string]*bool {
	return map[string]*bool{
		"audit_enabled":             &o.IsAuditEnabled,
		"read_audit_enabled":        &o.IsReadAuditEnabled,
		"user_access_audit_enabled": &o.IsUserAccessAuditEnabled,
	}
}

func tableFlags(st *EntityAuditState) map[string]*bool {
	return map[string]*bool{
		"audit_enabled":                   &st.IsAuditEnabled,
		"can_be_changed":                  &st.CanBeChanged,
		"retrieve_audit_enabled":          &st.IsRetrieveAuditEnabled,
		"retrieve_multiple_audit_enabled": &st.IsRetrieveMultipleAuditEnabled,
	}
}

func columnFlags(col *AttributeAuditState) map[string]*bool {
	return map[string]*bool{
		"audit_enabled":  &col.IsAuditEnabled,
		"can_be_changed": &col.CanBeChanged,
	}
}

// formatFlags renders boolean settings as the control answer shows them.
func formatFlags(flags map[string]*bool) map[string]string {
	out := make(map[string]string, len(flags))
	for name, v := range flags {
		out[name] = strconv.FormatBool(*v)
	}
	return out
}

func (s *Server) controlSetTable(req SetRequest, keys []string) (SetResponse, error) {
	current, ok := s.EntityAudit(req.Table)
	if !ok {
		return SetResponse{}, &setError{fmt.Sprintf("no table %q in the emulated environment%s", req.Table, didYouMean(req.Table, s.EntityNames()))}
	}
	if req.Target == SetTargetColumn {
		col, ok := current.Attributes[req.Column]
		if !ok {
			cols := make([]string, 0, len(current.Attributes))
			for name := range current.Attributes {
				cols = append(cols, name)
			}
			sort.Strings(cols)
			return SetResponse{}, &setError{fmt.Sprintf("table %q has no column %q%s", req.Table, req.Column, didYouMean(req.Column, cols))}
		}
		if col.AttributeOf != "" {
			return SetResponse{}, &setError{fmt.Sprintf("column %s.%s is part of %s and has no audit setting of its own", req.Table, req.Column, col.AttributeOf)}
		}
	}
	values := make(map[string]bool, len(keys))
	for _, k := range keys {
		b, err := parseSetBool(k, req.Settings[k])
		if err != nil {
			return SetResponse{}, err
		}
		values[k] = b
	}
	edit := func(st *EntityAuditState) {
		if req.Target == SetTargetColumn {
			col := st.Attributes[req.Column]
			flags := columnFlags(&col)
			for k, b := range values {
				*flags[k] = b
			}
			st.Attributes[req.Column] = col
			return
		}
		flags := tableFlags(st)
		for k, b := range values {
			*flags[k] = b
		}
	}
	save := s.SaveEntityAudit
	if req.Publish {
		save = s.UpdateEntityAudit
	}
	if err := save(req.Table, edit); err != nil {
		return SetResponse{}, err
	}
	st, _ := s.EntityAudit(req.Table)
	resp := SetResponse{Unpublished: !s.IsPublished(req.Table)}
	if req.Target == SetTargetColumn {
		col := st.Attributes[req.Column]
		resp.Settings = formatFlags(columnFlags(&col))
		return resp, nil
	}
	resp.Settings = formatFlags(tableFlags(&st))
	return resp, nil
}

// didYouMean suggests the closest of known names to a misspelt one (see
// names.Closest), as " (did you mean account?)", or "".
func didYouMean(name string, known []string) string {
	best := names.Closest(name, known, 1)
	if len(best) == 0 {
		return ""
	}
	return " (did you mean " + best[0] + "?)"
}
