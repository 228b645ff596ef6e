package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The one OData $filter parser of the emulator. It knows the grammar every
// route shares — comparisons combined with and, or, not and parentheses;
// "not" binds tighter than "and", which binds tighter than "or" — and
// leaves each comparison to the route (filterGrammar.comparison), which
// knows its properties, operators and literal types and writes the
// route's own error messages. A route whose subset has no "not" or
// parentheses says so with filterGrammar.flat.

// filterExpr is a parsed $filter over rows of type T.
type filterExpr[T any] interface {
	match(row T) bool
}

type andFilter[T any] struct{ l, r filterExpr[T] }
type orFilter[T any] struct{ l, r filterExpr[T] }
type notFilter[T any] struct{ x filterExpr[T] }

func (f andFilter[T]) match(row T) bool { return f.l.match(row) && f.r.match(row) }
func (f orFilter[T]) match(row T) bool  { return f.l.match(row) || f.r.match(row) }
func (f notFilter[T]) match(row T) bool { return !f.x.match(row) }

// filterGrammar is what a route adds to the shared grammar.
type filterGrammar[T any] struct {
	// comparison reads one comparison (property, operator, literal) from
	// toks and returns its predicate or the route's error.
	comparison func(toks *filterTokens) (filterExpr[T], error)
	// flat, when set, is the error for "not" and parentheses, which the
	// route does not support.
	flat func(toks *filterTokens) error
}

type tokKind int

const (
	tkWord tokKind = iota
	tkString
	tkOpen
	tkClose
	tkComma
	tkEOF
)

type filterToken struct {
	kind tokKind
	text string // word text, or the unescaped string literal
	pos  int
}

// filterError is a $filter the emulator refuses (400).
type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

func tokenizeFilter(s string) ([]filterToken, error) {
	var toks []filterToken
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			i++
		case '(':
			toks = append(toks, filterToken{tkOpen, "(", i})
			i++
		case ')':
			toks = append(toks, filterToken{tkClose, ")", i})
			i++
		case ',':
			toks = append(toks, filterToken{tkComma, ",", i})
			i++
		case '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, &filterError{fmt.Sprintf("There is an unterminated string literal at position %d in '%s'.", i, s)}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, filterToken{tkString, b.String(), i})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()',", rune(s[j])) {
				j++
			}
			toks = append(toks, filterToken{tkWord, s[i:j], i})
			i = j
		}
	}
	return append(toks, filterToken{tkEOF, "", len(s)}), nil
}

// filterTokens is the token cursor a route's comparison reads from.
type filterTokens struct {
	src  string
	toks []filterToken
	i    int
}

func (p *filterTokens) peek() filterToken { return p.toks[p.i] }

func (p *filterTokens) next() filterToken {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *filterTokens) syntaxError(t filterToken) error {
	return &filterError{fmt.Sprintf("Syntax error at position %d in '%s'.", t.pos, p.src)}
}

func (p *filterTokens) isWord(text string) bool {
	t := p.peek()
	return t.kind == tkWord && t.text == text
}

const maxFilterDepth = 100

type filterParser[T any] struct {
	*filterTokens
	grammar filterGrammar[T]
	depth   int
}

// parseODataFilter parses a $filter value with a route's grammar.
func parseODataFilter[T any](src string, grammar filterGrammar[T]) (filterExpr[T], error) {
	toks, err := tokenizeFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser[T]{filterTokens: &filterTokens{src: src, toks: toks}, grammar: grammar}
	if p.peek().kind == tkEOF {
		return nil, p.syntaxError(p.peek())
	}
	f, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tkEOF {
		return nil, p.syntaxError(t)
	}
	return f, nil
}

func (p *filterParser[T]) orExpr() (filterExpr[T], error) {
	return p.chain("or", p.andExpr, func(l, r filterExpr[T]) filterExpr[T] { return orFilter[T]{l, r} })
}

func (p *filterParser[T]) andExpr() (filterExpr[T], error) {
	return p.chain("and", p.unary, func(l, r filterExpr[T]) filterExpr[T] { return andFilter[T]{l, r} })
}

// chain parses operands joined by the keyword op, left-associative.
func (p *filterParser[T]) chain(op string, operand func() (filterExpr[T], error), join func(l, r filterExpr[T]) filterExpr[T]) (filterExpr[T], error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for p.isWord(op) {
		p.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = join(l, r)
	}
	return l, nil
}

func (p *filterParser[T]) unary() (filterExpr[T], error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, &filterError{fmt.Sprintf("The $filter '%s' is nested too deeply (more than %d levels).", p.src, maxFilterDepth)}
	}
	nested := p.isWord("not") || p.peek().kind == tkOpen
	if nested && p.grammar.flat != nil {
		return nil, p.grammar.flat(p.filterTokens)
	}
	if p.isWord("not") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notFilter[T]{x}, nil
	}
	if p.peek().kind == tkOpen {
		p.next()
		x, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tkClose {
			return nil, &filterError{fmt.Sprintf("')' or operator expected at position %d in '%s'.", c.pos, p.src)}
		}
		return x, nil
	}
	return p.grammar.comparison(p.filterTokens)
}

// literalType names the EDM type of an unquoted literal, or "".
func literalType(w string) string {
	if _, err := strconv.ParseInt(w, 10, 64); err == nil {
		return "Edm.Int32"
	}
	if _, err := strconv.ParseFloat(w, 64); err == nil && strings.ContainsAny(w, "0123456789") {
		return "Edm.Decimal"
	}
	if w == "true" || w == "false" {
		return "Edm.Boolean"
	}
	if _, err := uuid.Parse(w); err == nil && len(w) == 36 {
		return "Edm.Guid"
	}
	if _, ok := parseDateTimeLiteral(w); ok {
		return "Edm.DateTimeOffset"
	}
	return ""
}

func looksLikeLiteral(w string) bool { return literalType(w) != "" }

// parseDateTimeLiteral accepts an OData DateTimeOffset (RFC 3339, Z or an
// offset) and, as Dataverse does, a plain date (midnight UTC).
func parseDateTimeLiteral(w string) (time.Time, bool) {
	if len(w) < 10 || w[0] < '0' || w[0] > '9' {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, w); err == nil {
		return t.UTC(), true
	}
	if len(w) == 10 {
		if t, err := time.Parse(time.DateOnly, w); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
