package provider_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/provider"
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
	parallelSteps(t, []resource.TestStep{
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
	parallelSteps(t, []resource.TestStep{
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

	parallelSteps(t, []resource.TestStep{{
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
	}})
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
	parallelSteps(t, []resource.TestStep{
		{Config: cfg, ResourceName: "dynamics365_entity_audit_settings.account", ImportState: true, ImportStateId: "Account Table",
			ExpectError: phrases(`"Account Table" is not a table logical name`)},
		{Config: cfg, ResourceName: "dynamics365_entity_audit_settings.account", ImportState: true, ImportStateId: "nosuchtable",
			ExpectError: phrases(`no table with the logical name "nosuchtable"`)},
	})
	if n := env.Emulator.WriteCount(); n != 0 {
		t.Errorf("the emulator saw %d write requests, want none", n)
	}
}

// solution_unique_name puts the changes in that solution.
func TestAccEntityAuditSettings_solution(t *testing.T) {
	env := acctest.NewEnv(t)
	acct := entityAudit(t, env, "account")
	parallelSteps(t, []resource.TestStep{{
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
	}})
}

// Sixty tables in one apply with Terraform's default parallelism: publishes
// are batched and serialised (no lock error reaches Terraform), every table
// ends published, and a refresh of all sixty costs at most 3 metadata reads
// (of two requests each: saved and published definitions).
func TestAccEntityAuditSettings_rollout60(t *testing.T) {
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 60)
	cfg := env.ProviderConfig() + acctest.TablesConfig(tables, "audit_enabled = true\n  retrieve_multiple_audit_enabled = true")
	var refreshReads int
	var refreshRequests map[string]int
	parallelSteps(t, []resource.TestStep{
		{
			Config: cfg,
			Check: func(*terraform.State) error {
				for _, name := range tables {
					st, _ := env.Emulator.EntityAudit(name)
					if !st.IsAuditEnabled || !st.IsRetrieveMultipleAuditEnabled {
						return fmt.Errorf("table %s: %+v", name, st)
					}
				}
				if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
					return fmt.Errorf("unpublished tables left: %v", u)
				}
				publishes := env.Emulator.RequestCount("POST PublishXml")
				if publishes == 0 || publishes >= len(tables) {
					return fmt.Errorf("%d PublishXml calls for %d tables, want fewer than the tables", publishes, len(tables))
				}
				t.Logf("60 tables: %d PublishXml calls, %d lock conflicts at the emulator, %d metadata PUTs",
					publishes, env.Emulator.LockConflictCount(), env.Emulator.RequestCount("PUT EntityDefinitions"))
				return nil
			},
		},
		{
			PreConfig:    env.Emulator.ResetCounters,
			RefreshState: true,
		},
		{
			PreConfig: func() {
				// HTTP requests on the wire: a $batch of per-table
				// reads is one; the bulk read is two (saved and
				// published). The refresh is two walks, each with its
				// own cache.
				refreshRequests = env.Emulator.Requests()
				refreshReads = env.Emulator.HTTPRequestCount("GET RetrieveAllEntities") + env.Emulator.HTTPRequestCount("GET RetrieveEntity") +
					env.Emulator.HTTPRequestCount("GET EntityDefinitions") + env.Emulator.RequestCount("POST $batch")
			},
			Config:           cfg,
			ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
		},
	})
	if refreshReads < 2 || refreshReads > 10 {
		t.Errorf("a refresh of 60 tables made %d metadata read requests, want 2 to 10 (at most 5 a walk)", refreshReads)
	}
	t.Logf("refresh of 60 tables: %d metadata read requests", refreshReads)
	t.Logf("requests of the refresh step: %v", refreshRequests)
}

// publish = false on every table and one dynamics365_customizations_publish:
// exactly one PublishXml for the whole rollout, after every change.
func TestAccCustomizationsPublish_singlePublish(t *testing.T) {
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 20)
	cfg := func(extra string) string {
		return env.ProviderConfig() + acctest.TablesConfig(tables, "retrieve_audit_enabled = true\n  publish = false") + fmt.Sprintf(`
resource "dynamics365_customizations_publish" "all" {
  entity_logical_names = [for r in dynamics365_entity_audit_settings.t : r.entity_logical_name]
  triggers = {
    for r in dynamics365_entity_audit_settings.t : r.entity_logical_name => jsonencode([r.audit_enabled, r.retrieve_audit_enabled])
  }
%s
}
`, extra)
	}
	parallelSteps(t, []resource.TestStep{
		{
			Config: cfg(""),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("dynamics365_customizations_publish.all", tfjsonpath.New("entity_logical_names"), knownvalue.SetSizeExact(20)),
			},
			Check: func(*terraform.State) error {
				if n := env.Emulator.RequestCount("POST PublishXml"); n != 1 {
					return fmt.Errorf("%d PublishXml calls, want exactly 1", n)
				}
				batches := env.Emulator.PublishedTables()
				if len(batches) != 1 || len(batches[0]) != len(tables) {
					return fmt.Errorf("published batches %v, want one with all %d tables", batches, len(tables))
				}
				if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
					return fmt.Errorf("unpublished tables left: %v", u)
				}
				return nil
			},
		},
		{
			// Same configuration: nothing to publish.
			PreConfig:        env.Emulator.ResetCounters,
			Config:           cfg(""),
			ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			Check: func(*terraform.State) error {
				if n := env.Emulator.RequestCount("POST PublishXml"); n != 0 {
					return fmt.Errorf("%d PublishXml calls without a change, want 0", n)
				}
				return nil
			},
		},
	})
}

// Another tool's publish holds the customization lock while Terraform
// writes and publishes: the lock conflict is retried and never reaches the
// user. Whether Dataverse refuses a metadata PUT during a publish is not
// documented: refused (the emulator's default) the PUT is retried;
// accepted, the provider's own publish is.
func TestAccEntityAuditSettings_publishLockRetried(t *testing.T) {
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("acceptWritesDuringPublish=%t", accept), func(t *testing.T) {
			testPublishLockRetried(t, emulator.Options{AcceptMetadataWritesDuringPublish: accept})
		})
	}
}

func testPublishLockRetried(t *testing.T, opts emulator.Options) {
	env := acctest.NewEnvWithOptions(t, opts)
	released := make(chan struct{})
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: lockTestFactories(),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				// An admin's "Publish all customizations" holds the lock until
				// the provider's publish has been refused at least once, however
				// slowly this machine gets there.
				release := env.Emulator.HoldCustomizationLock("PublishAll")
				go func() {
					defer close(released)
					defer release()
					deadline := time.Now().Add(2 * time.Minute)
					for env.Emulator.LockConflictCount() < 1 && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
				}()
			},
			Config: entityConfig(env, "account", "retrieve_audit_enabled = true"),
			Check: func(*terraform.State) error {
				<-released
				if n := env.Emulator.LockConflictCount(); n < 1 {
					return fmt.Errorf("no lock conflict happened (%d); the test did not exercise the retry", n)
				}
				if !env.Emulator.IsPublished("account") {
					return fmt.Errorf("account was not published")
				}
				return nil
			},
		}},
	})
}

// A publish that fails after the metadata was written leaves published =
// false in the state; the next plan shows it and the next apply publishes.
func TestAccEntityAuditSettings_failedPublishRetriedNextApply(t *testing.T) {
	env := acctest.NewEnv(t)
	acct := entityAudit(t, env, "account")
	cfg := func(multiple bool) string {
		return entityConfig(env, "account", fmt.Sprintf("retrieve_multiple_audit_enabled = %t", multiple))
	}
	addr := "dynamics365_entity_audit_settings.account"
	parallelSteps(t, []resource.TestStep{
		{Config: cfg(acct.IsRetrieveMultipleAuditEnabled)},
		{
			// The publish is refused (a 400 is not retried).
			PreConfig: func() {
				env.Emulator.InjectFaults("POST PublishXml", emulator.Fault{Status: http.StatusBadRequest})
			},
			Config:      cfg(!acct.IsRetrieveMultipleAuditEnabled),
			ExpectError: phrases("Cannot publish table account"),
		},
		{
			Config: cfg(!acct.IsRetrieveMultipleAuditEnabled),
			ConfigPlanChecks: preApply(
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				plancheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
			),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
			},
			Check: func(*terraform.State) error {
				if !env.Emulator.IsPublished("account") {
					return fmt.Errorf("account is still unpublished")
				}
				return nil
			},
		},
	})
}

// These tests run with the emulator's metadata cache on, as Dataverse has
// it: for 30 s after a table or column PUT, reads without Consistency:
// Strong return the definition as it was before. Each Terraform command of
// a test step is a new provider instance (a new metadata cache), like a new
// process.

// lockTestFactories retry a locked publish or metadata write after 100 ms.
func lockTestFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"dynamics365": providerserver.NewProtocol6WithError(provider.New("test", provider.WithGetenv(noEnv),
			provider.WithPublishWindow(testPublishWindow), provider.WithLockRetryWait(100*time.Millisecond))()),
	}
}

func expectStrongReads(env *acctest.Env) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if env.Emulator.StrongConsistencyCount() == 0 {
			return fmt.Errorf("no request carried Consistency: Strong")
		}
		return nil
	}
}

// terraform apply, then at once terraform plan: no drift from the cache.
func TestAccEntityAuditSettings_planRightAfterApplyIsEmpty(t *testing.T) {
	env := acctest.NewEnv(t)
	first := entityConfig(env, "new_project", `
  audit_enabled = true
  attributes = {
    new_code   = true
    new_rating = true
  }
`)
	second := entityConfig(env, "new_project", `
  audit_enabled                   = true
  retrieve_multiple_audit_enabled = true
  attributes = {
    new_code   = true
    new_rating = false
  }
`)
	parallelSteps(t, []resource.TestStep{
		{Config: first, Check: resource.ComposeTestCheckFunc(
			expectEntity(env, "new_project", true, false, false, map[string]bool{"new_code": true, "new_rating": true}),
			expectStrongReads(env))},
		{Config: first, ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan())},
		{Config: second, Check: expectEntity(env, "new_project", true, false, true, map[string]bool{"new_code": true, "new_rating": false})},
		{Config: second, ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan())},
	})
}

// Two changes of one table in a row, the second managing another setting:
// the second apply must write back the definition as the first left it,
// not the cached one before it (which would turn auditing off again).
func TestAccEntityAuditSettings_secondChangeKeepsTheFirst(t *testing.T) {
	env := acctest.NewEnv(t)
	parallelSteps(t, []resource.TestStep{
		{Config: entityConfig(env, "new_project", `
  audit_enabled = true
`), Check: expectEntity(env, "new_project", true, false, false, nil)},
		// audit_enabled is no longer managed; it must stay on.
		{Config: entityConfig(env, "new_project", `
  retrieve_multiple_audit_enabled = true
`), Check: expectEntity(env, "new_project", true, false, true, nil)},
	})
}

// A change while a solution import runs is sent again until the import
// ends, even with max_retries = 0: the lock is not a transport failure.
func TestAccEntityAuditSettings_waitsForAnImport(t *testing.T) {
	env := acctest.NewEnv(t)
	config := env.ProviderConfig("max_retries = 0") + `
resource "dynamics365_entity_audit_settings" "new_project" {
  entity_logical_name = "new_project"
  audit_enabled       = true
  attributes          = { new_code = true }
}
`
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: lockTestFactories(),
		Steps: []resource.TestStep{{
			// The import ends once it has refused the apply's PUT twice
			// (counted, not timed: plan and apply now read every definition
			// saved and published, several MB, before the first PUT, so
			// a timed import could end before the PUT is sent).
			PreConfig: func() {
				release := env.Emulator.HoldCustomizationLock("Import")
				t.Cleanup(release)
				go func() {
					for env.Emulator.LockConflictCount() < 2 {
						time.Sleep(10 * time.Millisecond)
					}
					release()
				}()
			},
			Config: config,
			Check: resource.ComposeTestCheckFunc(
				expectEntity(env, "new_project", true, false, false, map[string]bool{"new_code": true}),
				func(*terraform.State) error {
					if env.Emulator.LockConflictCount() == 0 {
						return fmt.Errorf("the import refused nothing: the test did not exercise the lock")
					}
					return nil
				}),
		}},
	})
}

// When the import outlasts the resource's timeout, the error names the
// running operation and says what to do.
func TestAccEntityAuditSettings_givesUpOnTheLockAtTheTimeout(t *testing.T) {
	env := acctest.NewEnv(t)
	release := env.Emulator.HoldCustomizationLock("Import")
	t.Cleanup(release)
	before := entityAudit(t, env, "new_project")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: lockTestFactories(),
		Steps: []resource.TestStep{{
			Config: entityConfig(env, "new_project", `
  audit_enabled = true
  timeouts {
    create = "3s"
  }
`),
			ExpectError: regexp.MustCompile(`(?s)Cannot update the audit settings of table new_project.*\(\[Import\]\)\s+held\s+the\s+environment's\s+customization\s+lock.*Solution\s+history.*timeouts`),
		}},
	})
	if after := entityAudit(t, env, "new_project"); after.IsAuditEnabled != before.IsAuditEnabled {
		t.Error("the table was changed during the import")
	}
}

func publishTables(env *acctest.Env, tables ...string) error {
	token, err := env.Emulator.IssueAccessToken(env.ClientID, env.Emulator.EnvironmentURL(), time.Hour)
	if err != nil {
		return err
	}
	xml := "<importexportxml><entities><entity>" + strings.Join(tables, "</entity><entity>") + "</entity></entities></importexportxml>"
	req, err := http.NewRequest(http.MethodPost, env.Emulator.EnvironmentURL()+"/api/data/v9.2/PublishXml",
		strings.NewReader(fmt.Sprintf(`{"ParameterXml":%q}`, xml)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.Emulator.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("PublishXml: HTTP %d", resp.StatusCode)
	}
	return nil
}

// The forgotten publish: publish = false and audit_enabled = false. The
// change is saved, the table still audits (published), and the state says
// published = false; once someone publishes, a refresh says true.
func TestAccEntityAuditSettings_forgottenPublish(t *testing.T) {
	t.Parallel()
	env := acctest.NewEnv(t)
	addr := "dynamics365_entity_audit_settings.account"
	cfg := entityConfig(env, "account", "audit_enabled = false\n  publish = false")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("audit_enabled"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(false)),
				},
				Check: func(*terraform.State) error {
					saved, _ := env.Emulator.EntityAudit("account")
					pub, _ := env.Emulator.PublishedEntityAudit("account")
					if saved.IsAuditEnabled || !pub.IsAuditEnabled {
						return fmt.Errorf("saved %t, published %t; want saved off and still audited", saved.IsAuditEnabled, pub.IsAuditEnabled)
					}
					return nil
				},
			},
			{
				// The user chose not to publish: no diff for it.
				Config:           cfg,
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			},
			{
				// Published by someone else: the state learns it.
				PreConfig: func() {
					if err := publishTables(env, "account"); err != nil {
						t.Fatal(err)
					}
				},
				Config:           cfg,
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
				},
			},
		},
	})
}

// A column change saved but not published shows in `published` when the
// resource manages that column (its published value is read, filtered on
// the managed columns), and not when it manages other columns only.
func TestAccEntityAuditSettings_unpublishedColumnChange(t *testing.T) {
	t.Parallel()
	env := acctest.NewEnv(t)
	addr := "dynamics365_entity_audit_settings.new_project"
	cfg := entityConfig(env, "new_project", `
  audit_enabled = true
  attributes = {
    new_code = true
  }
`)
	saveColumn := func(col string) func() {
		return func() {
			if err := env.Emulator.SaveEntityAudit("new_project", func(a *emulator.EntityAuditState) {
				c := a.Attributes[col]
				c.IsAuditEnabled = !c.IsAuditEnabled
				a.Attributes[col] = c
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// A column this resource does not manage: nothing to do.
				PreConfig:        saveColumn("new_rating"),
				Config:           cfg,
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			},
			{
				// The managed column published off, then saved on (as
				// configured) without a publish: only the published view
				// differs, and the plan publishes.
				PreConfig: func() {
					saveColumn("new_code")()
					if err := publishTables(env, "new_project"); err != nil {
						t.Fatal(err)
					}
					saveColumn("new_code")()
				},
				Config: cfg,
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
				),
				Check: func(*terraform.State) error {
					pub, _ := env.Emulator.PublishedEntityAudit("new_project")
					if !pub.Attributes["new_code"].IsAuditEnabled {
						return fmt.Errorf("new_code is not audited as published")
					}
					return nil
				},
			},
			{Config: cfg, ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan())},
		},
	})
}

// A change saved but never published — a portal Save without Publish, or an
// apply killed between its write and its publish — shows as published:
// false -> true in the next plan, and the apply publishes it.
func TestAccEntityAuditSettings_savedNotPublishedIsPublished(t *testing.T) {
	t.Parallel()
	env := acctest.NewEnv(t)
	addr := "dynamics365_entity_audit_settings.account"
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: entityConfig(env, "account", "retrieve_audit_enabled = false")},
			{
				// What an apply killed after its PUT leaves behind.
				PreConfig: func() {
					if err := env.Emulator.SaveEntityAudit("account", func(a *emulator.EntityAuditState) {
						a.IsRetrieveAuditEnabled = true
					}); err != nil {
						t.Fatal(err)
					}
				},
				Config: entityConfig(env, "account", "retrieve_audit_enabled = true"),
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
				),
				Check: func(*terraform.State) error {
					if pub, _ := env.Emulator.PublishedEntityAudit("account"); !pub.IsRetrieveAuditEnabled || !env.Emulator.IsPublished("account") {
						return fmt.Errorf("the saved change was not published")
					}
					return nil
				},
			},
		},
	})
}

// With one dynamics365_customizations_publish for a rollout, a table saved
// but not published afterwards makes the plan publish again.
func TestAccCustomizationsPublish_healsUnpublishedTable(t *testing.T) {
	t.Parallel()
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 2)
	cfg := env.ProviderConfig() + acctest.TablesConfig(tables, "retrieve_audit_enabled = true\n  publish = false") + `
resource "dynamics365_customizations_publish" "all" {
  entity_logical_names = [for r in dynamics365_entity_audit_settings.t : r.entity_logical_name]
}
`
	addr := "dynamics365_customizations_publish.all"
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					env.Emulator.ResetCounters()
					// A setting these resources do not manage, saved in the portal without Publish.
					if err := env.Emulator.SaveEntityAudit(tables[1], func(a *emulator.EntityAuditState) {
						a.IsRetrieveMultipleAuditEnabled = !a.IsRetrieveMultipleAuditEnabled
					}); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("unpublished_entity_logical_names"), knownvalue.SetSizeExact(0)),
				),
				Check: func(*terraform.State) error {
					if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
						return fmt.Errorf("unpublished tables left: %v", u)
					}
					if n := env.Emulator.RequestCount("POST PublishXml"); n != 1 {
						return fmt.Errorf("%d PublishXml calls, want 1", n)
					}
					return nil
				},
			},
			{Config: cfg, ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan())},
		},
	})
}

// Managed properties lock managed components only: the primary key of an
// unmanaged custom table (IsAuditEnabled.CanBeChanged = false) is changed;
// a refusal by the service names the column; a managed locked table is
// refused at plan.
func TestAccEntityAuditSettings_managedPropertyLocks(t *testing.T) {
	env := acctest.NewEnv(t)
	col := "dynamics365_entity_audit_settings.new_project"
	parallelSteps(t, []resource.TestStep{
		{
			Config:      entityConfig(env, "activitypointer", "audit_enabled = true"),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`Table audit setting is locked`),
		},
		{
			PreConfig: func() {
				env.Emulator.InjectFaults("PUT EntityDefinitions", emulator.Fault{Status: http.StatusBadRequest})
			},
			Config:      entityConfig(env, "new_project", "attributes = { new_projectid = true }"),
			ExpectError: regexp.MustCompile(`Column auditing refused by Dataverse(.|\n)*new_projectid`),
		},
		{
			Config: entityConfig(env, "new_project", "attributes = { new_projectid = true }"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(col, tfjsonpath.New("attributes").AtMapKey("new_projectid"), knownvalue.Bool(true)),
			},
			Check: func(*terraform.State) error {
				if pub, _ := env.Emulator.PublishedEntityAudit("new_project"); !pub.Attributes["new_projectid"].IsAuditEnabled {
					return fmt.Errorf("new_projectid is not audited")
				}
				return nil
			},
		},
	})
}

// Twenty tables with publish = true and a publish window of an hour: each
// batch goes as soon as every resource operation in flight waits on it, so
// the apply finishes within the resources' 3-minute create timeout (a fixed
// window would make every publish fail on that timeout) with about one
// publish per ten tables (Terraform's parallelism) and no lock error.
func TestAccEntityAuditSettings_publishWhenAllWait(t *testing.T) {
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 20)
	factories := map[string]func() (tfprotov6.ProviderServer, error){
		"dynamics365": providerserver.NewProtocol6WithError(provider.New("test", provider.WithGetenv(noEnv),
			provider.WithPublishWindow(time.Hour), provider.WithLockRetryWait(100*time.Millisecond))()),
	}
	const maxPublishes = 20/10 + 3 // a batch may split where Terraform starts the next resources late
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{{
			Config: env.ProviderConfig() + acctest.TablesConfig(tables, `retrieve_audit_enabled = true
  publish                = true
  timeouts {
    create = "3m"
  }`),
			Check: func(*terraform.State) error {
				if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
					return fmt.Errorf("unpublished tables left: %v", u)
				}
				publishes := env.Emulator.RequestCount("POST PublishXml")
				if publishes < 1 || publishes > maxPublishes {
					return fmt.Errorf("%d PublishXml calls for %d tables (batches %v), want 1 to %d",
						publishes, len(tables), env.Emulator.PublishedTables(), maxPublishes)
				}
				if n := env.Emulator.LockConflictCount(); n != 0 {
					return fmt.Errorf("%d lock conflicts at the emulator, want 0: publishes are serialised", n)
				}
				t.Logf("%d tables: %d PublishXml calls, batches %v", len(tables), publishes, env.Emulator.PublishedTables())
				return nil
			},
		}},
	})
}
