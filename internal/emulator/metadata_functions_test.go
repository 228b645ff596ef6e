package emulator

import (
	"net/http"
	"testing"
)

// auditEnabledIn reads IsAuditEnabled.Value of a table, or of one of its
// columns, from a decoded definition.
func auditEnabledIn(t *testing.T, def map[string]any, column string) bool {
	t.Helper()
	if column != "" {
		for _, a := range def["Attributes"].([]any) {
			am := a.(map[string]any)
			if am["LogicalName"] == column {
				return am["IsAuditEnabled"].(map[string]any)["Value"].(bool)
			}
		}
		t.Fatalf("no column %s", column)
	}
	return def["IsAuditEnabled"].(map[string]any)["Value"].(bool)
}

func retrieveEntity(t *testing.T, s *Server, token, table string, asIfPublished bool) map[string]any {
	t.Helper()
	flag := "false"
	if asIfPublished {
		flag = "true"
	}
	body := getOK(t, s, token, "RetrieveEntity(EntityFilters=@f,LogicalName=@n,MetadataId=@id,RetrieveAsIfPublished=@p)"+
		"?@f=Microsoft.Dynamics.CRM.EntityFilters'Attributes'&@n='"+table+"'&@id=00000000-0000-0000-0000-000000000000&@p="+flag)
	return body["EntityMetadata"].(map[string]any)
}

func TestSavedIsNotPublished(t *testing.T) {
	t.Parallel()
	for _, servesSaved := range []bool{false, true} {
		s, token := startAppServer(t, Options{PlainMetadataGetServesSaved: servesSaved})
		// A portal Save without Publish: auditing off, name column off.
		if err := s.SaveEntityAudit("account", func(a *EntityAuditState) {
			a.IsAuditEnabled = false
			n := a.Attributes["name"]
			n.IsAuditEnabled = false
			a.Attributes["name"] = n
		}); err != nil {
			t.Fatal(err)
		}
		if pub, _ := s.PublishedEntityAudit("account"); !pub.IsAuditEnabled || s.IsPublished("account") {
			t.Fatalf("published state changed by a save: %+v", pub.IsAuditEnabled)
		}
		published, saved := retrieveEntity(t, s, token, "account", false), retrieveEntity(t, s, token, "account", true)
		if !auditEnabledIn(t, published, "") || !auditEnabledIn(t, published, "name") {
			t.Error("RetrieveAsIfPublished=false shows the saved change")
		}
		if auditEnabledIn(t, saved, "") || auditEnabledIn(t, saved, "name") {
			t.Error("RetrieveAsIfPublished=true misses the saved change")
		}
		for _, a := range saved["Attributes"].([]any) {
			if a.(map[string]any)["LogicalName"] == "name" && a.(map[string]any)["@odata.type"] != "#Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata" {
				t.Errorf("column type %v", a.(map[string]any)["@odata.type"])
			}
		}
		all := getOK(t, s, token, "RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',RetrieveAsIfPublished=false)")
		for _, e := range all["EntityMetadata"].([]any) {
			em := e.(map[string]any)
			if em["LogicalName"] == "account" && !auditEnabledIn(t, em, "") {
				t.Error("RetrieveAllEntities(false) shows the saved change")
			}
			if _, ok := em["Attributes"]; ok {
				t.Fatal("EntityFilters Entity returned columns")
			}
		}
		plain := getOK(t, s, token, "EntityDefinitions(LogicalName='account')?$select=IsAuditEnabled&$expand=Attributes($select=LogicalName,IsAuditEnabled)")
		if got := auditEnabledIn(t, plain, ""); got == servesSaved || auditEnabledIn(t, plain, "name") == servesSaved {
			t.Errorf("servesSaved=%t: plain GET IsAuditEnabled %t", servesSaved, got)
		}

		if r := callAPI(t, s, http.MethodPost, "PublishXml", token,
			`{"ParameterXml":"<importexportxml><entities><entity>account</entity></entities></importexportxml>"}`, nil); r.status != 204 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
		if auditEnabledIn(t, retrieveEntity(t, s, token, "account", false), "") {
			t.Error("published definition unchanged after PublishXml")
		}
		if pub, _ := s.PublishedEntityAudit("account"); pub.IsAuditEnabled {
			t.Error("published audit state unchanged after PublishXml")
		}
	}
}

func TestMetadataFunctionErrors(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	for _, path := range []string{
		"RetrieveEntity(LogicalName='account',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=true)",
		"RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',LogicalName='account',RetrieveAsIfPublished=true)",
		"RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',RetrieveAsIfPublished=maybe)",
		"RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',RetrieveAsIfPublished=true,LogicalName='account')",
	} {
		if r := callAPI(t, s, http.MethodGet, path, token, nil, nil); r.status != 400 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	r := callAPI(t, s, http.MethodGet, "RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',LogicalName='nosuch',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=true)", token, nil, nil)
	if r.status != 404 {
		t.Errorf("unknown table: %d %s", r.status, r.body)
	}
}

// Managed properties constrain managed components only: a custom table's
// primary key column (unmanaged, IsAuditEnabled.CanBeChanged = false) can be
// changed where it is unmanaged; a managed locked one cannot.
func TestManagedPropertyLocksManagedComponentsOnly(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	cpath := "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_projectid')"
	cdef := fullDefinition(t, s, token, cpath+"/Microsoft.Dynamics.CRM.UniqueIdentifierAttributeMetadata", "Microsoft.Dynamics.CRM.UniqueIdentifierAttributeMetadata")
	if m := readManaged(cdef, "IsAuditEnabled"); m.canBeChanged || readBool(cdef, "IsManaged") {
		t.Fatalf("catalogue: new_projectid should be unmanaged and locked: %+v", m)
	}
	if r := put(t, s, token, cpath, cdef.with("IsAuditEnabled", mustRaw(managed(true, false, "canmodifyauditsettings"))), nil); r.status != 204 {
		t.Fatalf("unmanaged locked column refused: %d %s", r.status, r.body)
	}
	if st, _ := s.EntityAudit("new_project"); !st.Attributes["new_projectid"].IsAuditEnabled {
		t.Error("unmanaged locked column not changed")
	}
	// The five locked standard tables are managed, so still refused.
	path := "EntityDefinitions(LogicalName='activitypointer')"
	def := fullDefinition(t, s, token, path, "")
	if !readBool(def, "IsManaged") {
		t.Fatal("activitypointer should be managed")
	}
	r := put(t, s, token, path, def.with("IsAuditEnabled", mustRaw(managed(true, false, "canmodifyauditsettings"))), nil)
	wantError(t, r, 400, "0x80040203", "'canmodifyauditsettings'")
}
