package dataverse

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
)

// publishedViews lets a fake written for RetrieveEntity / RetrieveAllEntities
// also serve the plain GETs of the published view: a GET of EntityDefinitions
// (one table or all, $select, optionally $expand=Attributes) or of one
// table's Attributes filtered on logical names goes to h as the matching
// function call with RetrieveAsIfPublished=false, and its answer is reshaped
// as the plain GET answers (the definition itself, or a "value" list). The
// request h sees carries the real URL in X-Original-Url. Other requests go
// to h unchanged.
func publishedViews(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/api/data/v9.2/")
		rest, isDefinitions := strings.CutPrefix(p, "EntityDefinitions")
		if r.Method != http.MethodGet || !isDefinitions {
			h(w, r)
			return
		}
		var table string
		if after, ok := strings.CutPrefix(rest, "(LogicalName='"); ok {
			table, rest, _ = strings.Cut(after, "')")
		}
		columnsQuery := rest == "/Attributes"
		if rest != "" && !columnsQuery {
			h(w, r) // a column of its own (typed GET): not a published-view read
			return
		}
		q := r.URL.Query()
		filters := "Entity"
		if columnsQuery || strings.Contains(q.Get("$expand"), "Attributes") {
			filters = "Attributes"
		}
		fn := "RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'" + filters + "',RetrieveAsIfPublished=false)"
		if table != "" {
			fn = "RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'" + filters + "',LogicalName='" + table +
				"',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=false)"
		}
		inner := r.Clone(r.Context())
		inner.URL = &url.URL{Path: "/api/data/v9.2/" + fn}
		inner.RequestURI = inner.URL.RequestURI()
		inner.Header.Set("X-Original-Url", r.URL.String())
		rec := httptest.NewRecorder()
		h(rec, inner)
		w.Header().Set("Content-Type", "application/json")
		if rec.Code != http.StatusOK {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		var body struct {
			EntityMetadata json.RawMessage `json:"EntityMetadata"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		switch {
		case columnsQuery:
			var def struct {
				Attributes []map[string]any `json:"Attributes"`
			}
			_ = json.Unmarshal(body.EntityMetadata, &def)
			names := map[string]bool{}
			for _, m := range filterNameRE.FindAllStringSubmatch(q.Get("$filter"), -1) {
				names[m[1]] = true
			}
			out := []map[string]any{}
			for _, a := range def.Attributes {
				if n, _ := a["LogicalName"].(string); names[n] {
					out = append(out, a)
				}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"value": out})
		case table == "":
			_ = json.NewEncoder(w).Encode(map[string]any{"value": body.EntityMetadata})
		default:
			_, _ = w.Write(body.EntityMetadata)
		}
	}
}

var filterNameRE = regexp.MustCompile(`LogicalName eq '([a-z0-9_]+)'`)

// realURL is the URL the client sent for a request a fake recorded: the
// plain GET that publishedViews turned into a function call, else the
// recorded path.
func realURL(r *http.Request) string {
	if u := r.Header.Get("X-Original-Url"); u != "" {
		if dec, err := url.PathUnescape(u); err == nil {
			return dec
		}
		return u
	}
	return r.URL.Path
}
