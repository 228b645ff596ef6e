package emulator

import (
	"errors"
	"strings"
	"testing"
)

// letterGrammar is a minimal route for the shared parser: rows are sets of
// letters and a comparison is "has <letter>".
type letterRow string

type hasLetter string

func (h hasLetter) match(row letterRow) bool { return strings.Contains(string(row), string(h)) }

func letterComparison(p *filterTokens) (filterExpr[letterRow], error) {
	if t := p.next(); t.kind != tkWord || t.text != "has" {
		return nil, p.syntaxError(t)
	}
	lit := p.next()
	if lit.kind != tkString {
		return nil, p.syntaxError(lit)
	}
	return hasLetter(lit.text), nil
}

func TestODataFilterGrammar(t *testing.T) {
	grammar := filterGrammar[letterRow]{comparison: letterComparison}
	rows := []letterRow{"", "a", "b", "c", "ab", "ac", "bc", "abc"}
	for filter, want := range map[string]string{
		"has 'a'":                                   "a ab ac abc",
		"has 'a' or has 'b' and has 'c'":            "a ab ac bc abc", // and binds tighter
		"(has 'a' or has 'b') and has 'c'":          "ac bc abc",
		"not has 'a' and has 'b'":                   "b bc", // not binds tighter than and
		"not (has 'a' or has 'b')":                  " c",   // the empty row and "c"
		"not not has 'c'":                           "c ac bc abc",
		"has 'a' and has 'b' or has 'c'":            "c ab ac bc abc",
		"\thas 'a'\r\nand\nhas 'c'":                 "ac abc",
		"((has 'a'))":                               "a ab ac abc",
		"has 'a' and not (has 'b' or has 'c')":      "a",
		"has 'a' or has 'b' or has 'c' and has 'z'": "a b ab ac bc abc",
	} {
		f, err := parseODataFilter(filter, grammar)
		if err != nil {
			t.Errorf("%q: %v", filter, err)
			continue
		}
		var got []string
		for _, r := range rows {
			if f.match(r) {
				got = append(got, string(r))
			}
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%q matches %q, want %q", filter, g, want)
		}
	}
}

func TestODataFilterErrors(t *testing.T) {
	grammar := filterGrammar[letterRow]{comparison: letterComparison}
	for filter, want := range map[string]string{
		"":                "Syntax error at position 0 in ''.",
		"has 'a' has 'b'": "Syntax error at position 8 in 'has 'a' has 'b''.",
		"(has 'a'":        "')' or operator expected at position 8 in '(has 'a''.",
		"has 'a":          "There is an unterminated string literal at position 4 in 'has 'a'.",
		"has 'a' and":     "Syntax error at position 11 in 'has 'a' and'.",
		strings.Repeat("(", 101) + "has 'a'" + strings.Repeat(")", 101): "nested too deeply (more than 100 levels)",
	} {
		_, err := parseODataFilter(filter, grammar)
		var fe *filterError
		if !errors.As(err, &fe) || !strings.Contains(fe.msg, want) {
			t.Errorf("%q: error %v, want it to contain %q", filter, err, want)
		}
	}

	// A flat route refuses not and parentheses with its own error.
	errFlat := errors.New("flat")
	flat := filterGrammar[letterRow]{comparison: letterComparison, flat: func(*filterTokens) error { return errFlat }}
	for _, filter := range []string{"not has 'a'", "(has 'a')", "has 'a' and (has 'b')"} {
		if _, err := parseODataFilter(filter, flat); !errors.Is(err, errFlat) {
			t.Errorf("flat %q: error %v, want the route's", filter, err)
		}
	}
	if _, err := parseODataFilter("has 'a' or has 'b' and has 'c'", flat); err != nil {
		t.Errorf("flat and/or: %v", err)
	}
}

// TestMetadataFilter checks the metadata route's subset of the shared
// grammar and its messages.
func TestMetadataFilter(t *testing.T) {
	fields := map[string]bool{"LogicalName": false, "IsCustomEntity": true}
	account := rawObject{{"LogicalName", mustRaw("account")}, {"IsCustomEntity", mustRaw(false)}}
	project := rawObject{{"LogicalName", mustRaw("new_project")}, {"IsCustomEntity", mustRaw(true)}}
	for filter, want := range map[string][2]bool{
		"LogicalName eq 'account'":                                                   {true, false},
		"IsCustomEntity eq true":                                                     {false, true},
		"LogicalName eq 'account' or IsCustomEntity eq true":                         {true, true},
		"LogicalName eq 'account' and IsCustomEntity eq true":                        {false, false},
		"LogicalName eq 'x' or LogicalName eq 'account' and IsCustomEntity eq false": {true, false},
	} {
		f, msg := parseFilter(filter, fields, entitySchema, entityMetadataType)
		if msg != "" {
			t.Errorf("%q: %s", filter, msg)
			continue
		}
		if got := [2]bool{f.match(account), f.match(project)}; got != want {
			t.Errorf("%q matches (account, new_project) %v, want %v", filter, got, want)
		}
	}
	unsupportedMsg := "is not supported by the Dynamics 365 emulator on EntityDefinitions"
	for filter, want := range map[string]string{
		"Foo eq 'x'":                       "Could not find a property named 'Foo' on type '" + entityMetadataType + "'.",
		"LogicalName ne 'account'":         unsupportedMsg,
		"not LogicalName eq 'account'":     unsupportedMsg,
		"(LogicalName eq 'account')":       unsupportedMsg,
		"startswith(LogicalName,'a')":      unsupportedMsg,
		"ObjectTypeCode eq 1":              unsupportedMsg,
		"IsCustomEntity eq 'true'":         unsupportedMsg,
		"LogicalName eq true":              unsupportedMsg,
		"LogicalName eq 'account' and":     unsupportedMsg,
		"LogicalName eq 'account' xor 1":   unsupportedMsg,
		"LogicalName eq 'unterminated":     unsupportedMsg,
		"Attributes/LogicalName eq 'name'": unsupportedMsg,
	} {
		if _, msg := parseFilter(filter, fields, entitySchema, entityMetadataType); !strings.Contains(msg, want) {
			t.Errorf("%q: %q, want it to contain %q", filter, msg, want)
		}
	}
}
