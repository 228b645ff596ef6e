package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Query options of metadata GETs: $select, $expand=Attributes($select=...) and $filter.

// metaQuery holds the query options of a metadata GET.
type metaQuery struct {
	sel         []string // nil: every property
	expandAttrs bool
	attrSel     []string              // $select inside $expand=Attributes(...)
	filter      filterExpr[rawObject] // nil: no $filter
	strong      bool                  // Consistency: Strong (metadata_cache.go)
}

func unsupported(what string) string {
	return fmt.Sprintf("%s is not supported by the Dynamics 365 emulator on %s.", what, entityDefinitionsSet)
}

func notAProperty(name, typeName string) string {
	return fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, typeName)
}

// parseSelect checks a $select list against schema.
func parseSelect(v string, schema []propSpec, typeName string, nav []string) ([]string, string) {
	var sel []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, ok := findProp(schema, f); ok {
			if !slices.Contains(sel, f) {
				sel = append(sel, f)
			}
			continue
		}
		if slices.Contains(nav, f) || strings.ContainsAny(f, "/*") {
			return nil, unsupported(fmt.Sprintf("The $select item '%s'", f))
		}
		return nil, notAProperty(f, typeName)
	}
	if sel == nil {
		sel = []string{}
	}
	return sel, ""
}

// parseMetaQuery reads $select, $expand and $filter. attrSchema is the schema
// of the column type being queried (for Attributes paths), else nil.
func parseMetaQuery(r *http.Request, p metaPath) (metaQuery, string) {
	var q metaQuery
	onAttributes := p.attributes
	collection := (p.entity == nil) || (p.attributes && p.attr == nil)
	schema, typeName, nav := entitySchema, entityMetadataType, entityNavigationProperties
	if onAttributes {
		schema, typeName, nav = attributeCommonSchema, attrMetadataType, nil
		if p.cast != "" {
			schema, typeName = attributeSchema(p.cast), p.cast
		}
	}
	for name, v := range systemQueryOptions(r) {
		switch {
		case name == "$select":
			sel, msg := parseSelect(v, schema, typeName, nav)
			if msg != "" {
				return q, msg
			}
			q.sel = sel
		case name == "$expand" && !onAttributes:
			if msg := parseExpand(v, &q); msg != "" {
				return q, msg
			}
		case name == "$filter" && collection:
			fields := map[string]bool{"LogicalName": false}
			if !onAttributes {
				fields["IsCustomEntity"] = true
			}
			f, msg := parseFilter(v, fields, schema, typeName)
			if msg != "" {
				return q, msg
			}
			q.filter = f
		default:
			return q, unsupported(fmt.Sprintf("The query parameter '%s'", name))
		}
	}
	return q, ""
}

func parseExpand(v string, q *metaQuery) string {
	for _, item := range splitTopLevel(v, ',') {
		item = strings.TrimSpace(item)
		name, opts, hasOpts := strings.Cut(item, "(")
		name = strings.TrimSpace(name)
		if name != "Attributes" {
			if slices.Contains(entityNavigationProperties, name) {
				return unsupported(fmt.Sprintf("$expand=%s", name))
			}
			return notAProperty(name, entityMetadataType)
		}
		q.expandAttrs = true
		if !hasOpts {
			continue
		}
		if !strings.HasSuffix(opts, ")") {
			return "Bad Request - Error in query syntax."
		}
		for _, o := range splitTopLevel(strings.TrimSuffix(opts, ")"), ';') {
			o = strings.TrimSpace(o)
			if o == "" {
				continue
			}
			k, val, _ := strings.Cut(o, "=")
			if k != "$select" {
				return unsupported(fmt.Sprintf("The option '%s' in $expand=Attributes(...)", k))
			}
			sel, msg := parseSelect(val, attributeCommonSchema, attrMetadataType, nil)
			if msg != "" {
				return msg
			}
			q.attrSel = sel
		}
	}
	return ""
}

func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// metaFilterTerm is "Name eq literal" on a definition's property.
type metaFilterTerm struct {
	name  string
	value string // string literal, or "true"/"false"
}

func (t metaFilterTerm) match(o rawObject) bool {
	raw, _ := o.get(t.name)
	var got string
	if jsonKind(raw) == "string" {
		_ = json.Unmarshal(raw, &got)
	} else {
		got = string(raw)
	}
	return got == t.value
}

// unknownFilterProperty is the one metadata $filter error that is not
// "unsupported": a name that is no property of the type.
type unknownFilterProperty struct{ msg string }

func (e *unknownFilterProperty) Error() string { return e.msg }

// parseFilter supports Name eq 'x' / Name eq true|false terms joined by and /
// or (and binds tighter), without not or parentheses; fields maps the
// supported names to whether they are boolean.
func parseFilter(v string, fields map[string]bool, schema []propSpec, typeName string) (filterExpr[rawObject], string) {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	bad := unsupported(fmt.Sprintf("The $filter '%s' (only %s eq <literal>, joined by and/or, are supported)", v, strings.Join(names, " / ")))
	errBad := &filterError{bad}
	grammar := filterGrammar[rawObject]{
		flat: func(*filterTokens) error { return errBad },
		comparison: func(p *filterTokens) (filterExpr[rawObject], error) {
			name, op, lit := p.next(), p.next(), p.next()
			if name.kind != tkWord || op.kind != tkWord || lit.kind == tkEOF {
				return nil, errBad
			}
			isBool, supported := fields[name.text]
			if !supported {
				if _, known := findProp(schema, name.text); !known && !strings.ContainsAny(name.text, "/") {
					return nil, &unknownFilterProperty{notAProperty(name.text, typeName)}
				}
				return nil, errBad
			}
			switch {
			case op.text != "eq":
				return nil, errBad
			case isBool && lit.kind == tkWord && (lit.text == "true" || lit.text == "false"):
				return metaFilterTerm{name.text, lit.text}, nil
			case !isBool && lit.kind == tkString:
				return metaFilterTerm{name.text, lit.text}, nil
			}
			return nil, errBad
		},
	}
	f, err := parseODataFilter(v, grammar)
	var unknown *unknownFilterProperty
	switch {
	case errors.As(err, &unknown):
		return nil, unknown.msg
	case err != nil:
		return nil, bad
	}
	return f, ""
}

// matchFilter reports whether o passes f; no filter passes everything.
func matchFilter(f filterExpr[rawObject], o rawObject) bool {
	return f == nil || f.match(o)
}
