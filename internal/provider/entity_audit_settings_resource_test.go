package provider_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

func entityConfig(env *acctest.Env, name, body string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "dynamics365_entity_audit_settings" %q {
  entity_logical_name = %q
%s
}
`, name, name, body)
}

func entityAudit(t *testing.T, env *acctest.Env, name string) emulator.EntityAuditState {
	t.Helper()
	st, ok := env.Emulator.EntityAudit(name)
	if !ok {
		t.Fatalf("emulator has no table %q", name)
	}
	return st
}

// expectEntity checks the emulator's (latest) audit state of a table and
// that it has no unpublished change left.
func expectEntity(env *acctest.Env, name string, audit, retrieve, retrieveMultiple bool, columns map[string]bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		st, ok := env.Emulator.EntityAudit(name)
		if !ok {
			return fmt.Errorf("no table %q", name)
		}
		if st.IsAuditEnabled != audit || st.IsRetrieveAuditEnabled != retrieve || st.IsRetrieveMultipleAuditEnabled != retrieveMultiple {
			return fmt.Errorf("table %s: audit=%t retrieve=%t retrieve_multiple=%t, want %t %t %t", name,
				st.IsAuditEnabled, st.IsRetrieveAuditEnabled, st.IsRetrieveMultipleAuditEnabled, audit, retrieve, retrieveMultiple)
		}
		for col, want := range columns {
			if got := st.Attributes[col].IsAuditEnabled; got != want {
				return fmt.Errorf("column %s.%s audited=%t, want %t", name, col, got, want)
			}
		}
		if !env.Emulator.IsPublished(name) {
			return fmt.Errorf("table %s has unpublished changes", name)
		}
		return nil
	}
}

func TestAccEntityAuditSettings_lifecycle(t *testing.T) {
	env := acctest.NewEnv(t)
	before := entityAudit(t, env, "new_project")
	if before.IsAuditEnabled || before.Attributes["new_rating"].IsAuditEnabled {
		t.Fatalf("unexpected starting state: %+v", before)
	}

	created := entityConfig(env, "new_project", `
  audit_enabled          = true
  retrieve_audit_enabled = true
  attributes = {
    new_code   = true
    new_rating = true
    new_budget = false
  }
`)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				Config: created,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dynamics365_entity_audit_settings.new_project", tfjsonpath.New("id"), knownvalue.StringExact("new_project")),
					statecheck.ExpectKnownValue("dynamics365_entity_audit_settings.new_project", tfjsonpath.New("audit_enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("dynamics365_entity_audit_settings.new_project", tfjsonpath.New("retrieve_multiple_audit_enabled"), knownvalue.Bool(before.IsRetrieveMultipleAuditEnabled)),
					statecheck.ExpectKnownValue("dynamics365_entity_audit_settings.new_project", tfjsonpath.New("attributes"), knownvalue.MapExact(map[string]knownvalue.Check{
						"new_code": knownvalue.Bool(true), "new_rating": knownvalue.Bool(true), "new_budget": knownvalue.Bool(false),
					})),
					statecheck.ExpectKnownValue("dynamics365_entity_audit_settings.new_project", tfjsonpath.New("publish"), knownvalue.Bool(true)),
				},
				Check: expectEntity(env, "new_project", true, true, before.IsRetrieveMultipleAuditEnabled,
					map[string]bool{"new_code": true, "new_rating": true, "new_budget": false}),
			},
			{
				Config:           created,
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			},
			{
				// Update: another switch, a column turned off, a column added,
				// and new_budget dropped from the map (no longer managed).
				Config: entityConfig(env, "new_project", `
  audit_enabled                   = true
  retrieve_audit_enabled          = true
  retrieve_multiple_audit_enabled = true
  attributes = {
    new_code           = true
    new_rating         = false
    new_isconfidential = true
  }
`),
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction("dynamics365_entity_audit_settings.new_project", plancheck.ResourceActionUpdate),
				),
				Check: expectEntity(env, "new_project", true, true, true,
					map[string]bool{"new_code": true, "new_rating": false, "new_isconfidential": true, "new_budget": false}),
			},
			{
				ResourceName:            "dynamics365_entity_audit_settings.new_project",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"attributes"},
			},
		},
	})

	// Audit rows for the metadata changes: 105 (entity audit started) once,
	// 106 (attribute audit started) for each column turned on.
	counts := map[int]int{}
	for _, r := range env.Emulator.AuditRecords() {
		counts[r.Action]++
	}
	if counts[105] != 1 || counts[106] != 3 || counts[109] != 1 {
		t.Errorf("audit rows by action = %v, want 105×1, 106×3 (new_code, new_rating, new_isconfidential), 109×1 (new_rating)", counts)
	}
}

func TestAccEntityAuditSettings_drift(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := entityConfig(env, "contact", `
  audit_enabled = true
  attributes = {
    emailaddress1 = true
  }
`)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: cfg, Check: expectEntity(env, "contact", true, entityAudit(t, env, "contact").IsRetrieveAuditEnabled, entityAudit(t, env, "contact").IsRetrieveMultipleAuditEnabled, map[string]bool{"emailaddress1": true})},
			{
				// An admin turns auditing of the table and the column off in the portal.
				PreConfig: func() {
					err := env.Emulator.UpdateEntityAudit("contact", func(s *emulator.EntityAuditState) {
						s.IsAuditEnabled = false
						a := s.Attributes["emailaddress1"]
						a.IsAuditEnabled = false
						s.Attributes["emailaddress1"] = a
					})
					if err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction("dynamics365_entity_audit_settings.contact", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("dynamics365_entity_audit_settings.contact", tfjsonpath.New("attributes").AtMapKey("emailaddress1"), knownvalue.Bool(true)),
				),
				Check: func(s *terraform.State) error {
					st := entityAudit(t, env, "contact")
					if !st.IsAuditEnabled || !st.Attributes["emailaddress1"].IsAuditEnabled {
						return fmt.Errorf("drift was not corrected: %+v", st)
					}
					return nil
				},
			},
			{
				// A change to something this resource does not manage is not planned away.
				PreConfig: func() {
					err := env.Emulator.UpdateEntityAudit("contact", func(s *emulator.EntityAuditState) {
						s.IsRetrieveMultipleAuditEnabled = !s.IsRetrieveMultipleAuditEnabled
						a := s.Attributes["telephone1"]
						a.IsAuditEnabled = !a.IsAuditEnabled
						s.Attributes["telephone1"] = a
					})
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:           cfg,
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			},
		},
	})
}

func TestAccEntityAuditSettings_onDestroy(t *testing.T) {
	for _, policy := range []string{"retain", "restore", "disable"} {
		t.Run(policy, func(t *testing.T) {
			env := acctest.NewEnv(t)
			before := entityAudit(t, env, "new_inspection")
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: testFactories(),
				CheckDestroy: func(*terraform.State) error {
					st := entityAudit(t, env, "new_inspection")
					var want struct{ audit, retrieve, col bool }
					switch policy {
					case "retain":
						want.audit, want.retrieve, want.col = true, true, true
					case "restore":
						want.audit, want.retrieve, want.col = before.IsAuditEnabled, before.IsRetrieveAuditEnabled, before.Attributes["new_passed"].IsAuditEnabled
					case "disable":
					}
					if st.IsAuditEnabled != want.audit || st.IsRetrieveAuditEnabled != want.retrieve || st.Attributes["new_passed"].IsAuditEnabled != want.col {
						return fmt.Errorf("after destroy (%s): %+v, want %+v", policy, st, want)
					}
					if st.IsRetrieveMultipleAuditEnabled != before.IsRetrieveMultipleAuditEnabled {
						return fmt.Errorf("an unmanaged switch changed on destroy")
					}
					if !env.Emulator.IsPublished("new_inspection") {
						return fmt.Errorf("the destroy change was not published")
					}
					return nil
				},
				Steps: []resource.TestStep{{
					Config: entityConfig(env, "new_inspection", fmt.Sprintf(`
  audit_enabled          = true
  retrieve_audit_enabled = true
  attributes = {
    new_passed = true
  }
  on_destroy = %q
`, policy)),
				}},
			})
		})
	}
}

// Every property the provider did not mean to change comes back equal: labels
// in both languages, exact decimals, type-specific column properties.
func TestAccEntityAuditSettings_noDataLoss(t *testing.T) {
	env := acctest.NewEnv(t)
	type snap struct{ table, column string }
	touched := []snap{{"account", ""}, {"account", "revenue"}, {"account", "exchangerate"}, {"account", "telephone1"},
		{"new_project", ""}, {"new_project", "new_rating"}, {"new_project", "new_budget"}}
	before := map[snap]json.RawMessage{}
	for _, s := range touched {
		before[s] = definition(t, env, s.table, s.column)
	}
	acct := entityAudit(t, env, "account")

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			Config: env.ProviderConfig() + fmt.Sprintf(`
resource "dynamics365_entity_audit_settings" "account" {
  entity_logical_name             = "account"
  retrieve_multiple_audit_enabled = %t
  attributes = {
    revenue      = %t
    exchangerate = %t
    telephone1   = %t
  }
}

resource "dynamics365_entity_audit_settings" "project" {
  entity_logical_name = "new_project"
  audit_enabled       = true
  attributes = {
    new_rating = true
    new_budget = true
  }
}
`, !acct.IsRetrieveMultipleAuditEnabled, !acct.Attributes["revenue"].IsAuditEnabled,
				!acct.Attributes["exchangerate"].IsAuditEnabled, !acct.Attributes["telephone1"].IsAuditEnabled),
			Check: func(*terraform.State) error {
				for _, s := range touched {
					after := definition(t, env, s.table, s.column)
					// The intended change, applied to the definition as read before.
					want := before[s]
					var err error
					switch {
					case s.table == "account" && s.column == "":
						want, err = withJSONValue(want, !acct.IsRetrieveMultipleAuditEnabled, "IsRetrieveMultipleAuditEnabled")
					case s.table == "account":
						want, err = withJSONValue(want, !acct.Attributes[s.column].IsAuditEnabled, "IsAuditEnabled", "Value")
					case s.column == "":
						want, err = withJSONValue(want, true, "IsAuditEnabled", "Value")
					default:
						want, err = withJSONValue(want, true, "IsAuditEnabled", "Value")
					}
					if err != nil {
						return err
					}
					if d := jsonDiff(t, want, after); d != "" {
						return fmt.Errorf("%s %s changed beyond the audit fields: %s", s.table, s.column, d)
					}
				}
				for _, lang := range []string{`"LanguageCode":1031`, `"Firma"`} {
					if def := definition(t, env, "account", ""); !strings.Contains(string(def), lang) {
						return fmt.Errorf("the German label is gone: %s missing", lang)
					}
				}
				return nil
			},
		}},
	})
}

func definition(t *testing.T, env *acctest.Env, table, column string) json.RawMessage {
	t.Helper()
	var def json.RawMessage
	var ok bool
	if column == "" {
		def, ok = env.Emulator.EntityDefinitionJSON(table)
	} else {
		def, ok = env.Emulator.AttributeDefinitionJSON(table, column)
	}
	if !ok {
		t.Fatalf("no definition for %s %s", table, column)
	}
	return def
}

// withJSONValue returns def with the value at path replaced, built by
// decoding and re-encoding (not by the provider's byte splicer, so the
// expectation does not share its code). Numbers keep their text; key order
// and whitespace are not kept, which canonicalJSON ignores anyway.
func withJSONValue(def json.RawMessage, value any, path ...string) (json.RawMessage, error) {
	doc, err := decodeJSONNumbers(def)
	if err != nil {
		return nil, err
	}
	obj, ok := doc.(map[string]any)
	for i, key := range path {
		if !ok {
			return nil, fmt.Errorf("%s: not an object", strings.Join(path[:i], "."))
		}
		if _, has := obj[key]; !has {
			return nil, fmt.Errorf("%s: no such key", strings.Join(path[:i+1], "."))
		}
		if i == len(path)-1 {
			obj[key] = value
			break
		}
		obj, ok = obj[key].(map[string]any)
	}
	return json.Marshal(doc)
}

func decodeJSONNumbers(b json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON value")
	}
	return doc, nil
}

// canonicalJSON re-encodes b with sorted keys and numbers as their text, so
// two definitions compare equal property for property.
func canonicalJSON(b json.RawMessage) ([]byte, error) {
	doc, err := decodeJSONNumbers(b)
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// jsonDiff compares canonical forms and names the first differing top-level key.
func jsonDiff(t *testing.T, want, got json.RawMessage) string {
	t.Helper()
	cw, err := canonicalJSON(want)
	if err != nil {
		t.Fatal(err)
	}
	cg, err := canonicalJSON(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(cw) == string(cg) {
		return ""
	}
	var mw, mg map[string]json.RawMessage
	_ = json.Unmarshal(cw, &mw)
	_ = json.Unmarshal(cg, &mg)
	keys := map[string]bool{}
	for k := range mw {
		keys[k] = true
	}
	for k := range mg {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if string(mw[k]) != string(mg[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: want %.120s, got %.120s", k, mw[k], mg[k]))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

func TestAccEntityAuditSettings_importErrors(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := entityConfig(env, "account", "audit_enabled = true")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: cfg, ResourceName: "dynamics365_entity_audit_settings.account", ImportState: true, ImportStateId: "Account Table",
				ExpectError: phrases(`"Account Table" is not a table logical name`)},
			{Config: cfg, ResourceName: "dynamics365_entity_audit_settings.account", ImportState: true, ImportStateId: "nosuchtable",
				ExpectError: phrases(`no table with the logical name "nosuchtable"`)},
		},
	})
	if n := env.Emulator.WriteCount(); n != 0 {
		t.Errorf("the emulator saw %d write requests, want none", n)
	}
}

// solution_unique_name puts the changes in that solution.
func TestAccEntityAuditSettings_solution(t *testing.T) {
	env := acctest.NewEnv(t)
	acct := entityAudit(t, env, "account")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			Config: entityConfig(env, "account", fmt.Sprintf(`
  retrieve_audit_enabled = %t
  attributes             = { telephone1 = %t }
  solution_unique_name   = "new_auditbaseline"
`, !acct.IsRetrieveAuditEnabled, !acct.Attributes["telephone1"].IsAuditEnabled)),
			Check: func(*terraform.State) error {
				got := strings.Join(env.Emulator.SolutionComponents("new_auditbaseline"), ",")
				if got != "entity:account,attribute:account.telephone1" {
					return fmt.Errorf("solution components %q", got)
				}
				return nil
			},
		}},
	})
}
