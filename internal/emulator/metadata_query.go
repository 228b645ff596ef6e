package emulator

import (
	"encoding/json"
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
	attrSel     []string // $select inside $expand=Attributes(...)
	filter      filterExpr
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
	for name, vals := range r.URL.Query() {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		v := vals[0]
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

// filterExpr is a disjunction of conjunctions of "Name eq literal".
type filterExpr [][]filterTerm

type filterTerm struct {
	name  string
	value string // string literal, or "true"/"false"
}

func (f filterExpr) match(o rawObject) bool {
	if len(f) == 0 {
		return true
	}
	for _, and := range f {
		ok := true
		for _, t := range and {
			raw, _ := o.get(t.name)
			var got string
			if jsonKind(raw) == "string" {
				_ = json.Unmarshal(raw, &got)
			} else {
				got = string(raw)
			}
			if got != t.value {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// parseFilter supports Name eq 'x' / Name eq true|false terms joined by and /
// or (and binds tighter); fields maps the supported names to whether they
// are boolean.
func parseFilter(v string, fields map[string]bool, schema []propSpec, typeName string) (filterExpr, string) {
	toks, ok := tokenizeFilter(v)
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	bad := unsupported(fmt.Sprintf("The $filter '%s' (only %s eq <literal>, joined by and/or, are supported)", v, strings.Join(names, " / ")))
	if !ok || len(toks) == 0 {
		return nil, bad
	}
	var expr filterExpr
	var cur []filterTerm
	for i := 0; ; {
		if i+3 > len(toks) {
			return nil, bad
		}
		name, op, lit := toks[i], toks[i+1], toks[i+2]
		isBool, supported := fields[name]
		if !supported {
			if _, known := findProp(schema, name); !known && !strings.HasPrefix(name, "'") && !strings.ContainsAny(name, "()/") {
				return nil, notAProperty(name, typeName)
			}
			return nil, bad
		}
		if op != "eq" {
			return nil, bad
		}
		switch {
		case isBool && (lit == "true" || lit == "false"):
			cur = append(cur, filterTerm{name, lit})
		case !isBool && len(lit) >= 2 && lit[0] == '\'':
			cur = append(cur, filterTerm{name, strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")})
		default:
			return nil, bad
		}
		i += 3
		if i == len(toks) {
			return append(expr, cur), ""
		}
		switch toks[i] {
		case "and":
		case "or":
			expr, cur = append(expr, cur), nil
		default:
			return nil, bad
		}
		i++
	}
}

func tokenizeFilter(s string) ([]string, bool) {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case ' ':
			i++
		case '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, false
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\'' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, true
}
