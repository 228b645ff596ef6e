package emulator

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The $filter subset of the audits entity set: comparisons
// (eq ne gt ge lt le) of createdon, action, operation, objecttypecode,
// _objectid_value and _userid_value with a literal of the property's type,
// combined with and, or, not and parentheses. "not" binds tighter than
// "and", which binds tighter than "or".

type filterKind int

const (
	fkTime filterKind = iota
	fkInt
	fkString
	fkGUID
)

func (k filterKind) edm() string {
	return [...]string{"Edm.DateTimeOffset", "Edm.Int32", "Edm.String", "Edm.Guid"}[k]
}

type filterField int

const (
	ffCreatedOn filterField = iota
	ffAction
	ffOperation
	ffObjectTypeCode
	ffObjectID
	ffUserID
)

var filterFields = map[string]struct {
	field filterField
	kind  filterKind
}{
	"createdon":       {ffCreatedOn, fkTime},
	"action":          {ffAction, fkInt},
	"operation":       {ffOperation, fkInt},
	"objecttypecode":  {ffObjectTypeCode, fkString},
	"_objectid_value": {ffObjectID, fkGUID},
	"_userid_value":   {ffUserID, fkGUID},
}

type cmpOp int

const (
	opEq cmpOp = iota
	opNe
	opGt
	opGe
	opLt
	opLe
)

var cmpOps = map[string]cmpOp{"eq": opEq, "ne": opNe, "gt": opGt, "ge": opGe, "lt": opLt, "le": opLe}

func (o cmpOp) kind() string {
	return [...]string{"Equal", "NotEqual", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"}[o]
}

func (o cmpOp) holds(c int) bool {
	switch o {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	case opLt:
		return c < 0
	}
	return c <= 0
}

// auditFilter is a parsed $filter expression.
type auditFilter interface {
	match(r *auditRow) bool
}

type andFilter struct{ l, r auditFilter }
type orFilter struct{ l, r auditFilter }
type notFilter struct{ x auditFilter }

func (f andFilter) match(r *auditRow) bool { return f.l.match(r) && f.r.match(r) }
func (f orFilter) match(r *auditRow) bool  { return f.l.match(r) || f.r.match(r) }
func (f notFilter) match(r *auditRow) bool { return !f.x.match(r) }

type cmpFilter struct {
	field filterField
	op    cmpOp
	sec   int64 // createdon literal
	nsec  int
	num   int64
	str   string
	id    uuid.UUID
	null  bool // GUID compared with null
}

func (f cmpFilter) match(r *auditRow) bool {
	var c int
	switch f.field {
	case ffCreatedOn:
		c = cmp.Compare(r.created, f.sec)
		if c == 0 && f.nsec > 0 {
			c = -1
		}
	case ffAction:
		c = cmp.Compare(int64(r.action), f.num)
	case ffOperation:
		c = cmp.Compare(int64(r.operation), f.num)
	case ffObjectTypeCode:
		c = strings.Compare(r.table, f.str)
	case ffObjectID, ffUserID:
		v := r.objectID
		if f.field == ffUserID {
			v = r.userID
		}
		if f.null {
			// null eq null is true; a value compared with null is only
			// "not equal".
			isNull := v == uuid.UUID{}
			switch f.op {
			case opEq:
				return isNull
			case opNe:
				return !isNull
			}
			return false
		}
		if v == (uuid.UUID{}) {
			return f.op == opNe
		}
		c = bytes.Compare(v[:], f.id[:])
	}
	return f.op.holds(c)
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

// filterError is a $filter the emulator refuses (400, code 0x0).
type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

func tokenizeAuditFilter(s string) ([]filterToken, error) {
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

const maxFilterDepth = 100

type filterParser struct {
	src   string
	toks  []filterToken
	i     int
	depth int
}

// parseAuditFilter parses a $filter value; errors are *filterError.
func parseAuditFilter(src string) (auditFilter, error) {
	toks, err := tokenizeAuditFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: src, toks: toks}
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

func (p *filterParser) peek() filterToken { return p.toks[p.i] }

func (p *filterParser) next() filterToken {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *filterParser) syntaxError(t filterToken) error {
	return &filterError{fmt.Sprintf("Syntax error at position %d in '%s'.", t.pos, p.src)}
}

func (p *filterParser) isWord(text string) bool {
	t := p.peek()
	return t.kind == tkWord && t.text == text
}

func (p *filterParser) orExpr() (auditFilter, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = orFilter{l, r}
	}
	return l, nil
}

func (p *filterParser) andExpr() (auditFilter, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andFilter{l, r}
	}
	return l, nil
}

func (p *filterParser) unary() (auditFilter, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, &filterError{fmt.Sprintf("The $filter '%s' is nested too deeply (more than %d levels).", p.src, maxFilterDepth)}
	}
	if p.isWord("not") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notFilter{x}, nil
	}
	t := p.peek()
	if t.kind == tkOpen {
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
	return p.comparison()
}

func (p *filterParser) comparison() (auditFilter, error) {
	t := p.next()
	if t.kind != tkWord {
		return nil, p.syntaxError(t)
	}
	if p.peek().kind == tkOpen {
		return nil, &filterError{fmt.Sprintf("The function '%s' (at position %d in '%s') is not supported in $filter on audits by the Dynamics 365 emulator: only comparisons with eq, ne, gt, ge, lt, le joined by and, or, not are.", t.text, t.pos, p.src)}
	}
	field, ok := filterFields[t.text]
	if !ok {
		if _, known := auditColumnIndex[t.text]; known {
			return nil, &filterError{fmt.Sprintf("Filtering audits on '%s' is not supported by the Dynamics 365 emulator (supported: createdon, action, operation, objecttypecode, _objectid_value, _userid_value).", t.text)}
		}
		if looksLikeLiteral(t.text) {
			return nil, &filterError{fmt.Sprintf("The left operand at position %d in '%s' must be a property of audit: literal '%s' found.", t.pos, p.src, t.text)}
		}
		return nil, &filterError{notAProperty(t.text, auditEntityType)}
	}
	opTok := p.next()
	if opTok.kind != tkWord {
		return nil, p.syntaxError(opTok)
	}
	op, ok := cmpOps[opTok.text]
	if !ok {
		if opTok.text == "in" || opTok.text == "has" {
			return nil, &filterError{fmt.Sprintf("The '%s' operator (at position %d in '%s') is not supported by the Dynamics 365 emulator: use eq joined by or.", opTok.text, opTok.pos, p.src)}
		}
		return nil, p.syntaxError(opTok)
	}
	lit := p.next()
	f := cmpFilter{field: field.field, op: op}
	incompatible := func(found string) error {
		return &filterError{fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", field.kind.edm(), found, op.kind())}
	}
	switch lit.kind {
	case tkString:
		if field.kind != fkString {
			return nil, incompatible("Edm.String")
		}
		f.str = lit.text
		return f, nil
	case tkWord:
	default:
		return nil, p.syntaxError(lit)
	}
	w := lit.text
	if w == "null" {
		if field.kind != fkGUID {
			return nil, &filterError{fmt.Sprintf("Comparing '%s' with null is not supported by the Dynamics 365 emulator (the column is never null).", t.text)}
		}
		f.null = true
		return f, nil
	}
	found := literalType(w)
	switch field.kind {
	case fkTime:
		tm, ok := parseDateTimeLiteral(w)
		if !ok {
			if found != "" && found != "Edm.DateTimeOffset" {
				return nil, incompatible(found)
			}
			return nil, &filterError{fmt.Sprintf("Unrecognized 'Edm.DateTimeOffset' literal '%s' at '%d' in '%s'.", w, lit.pos, p.src)}
		}
		f.sec, f.nsec = tm.Unix(), tm.Nanosecond()
	case fkInt:
		n, err := strconv.ParseInt(w, 10, 32)
		if err != nil {
			if found != "" && found != "Edm.Int32" {
				return nil, incompatible(found)
			}
			return nil, &filterError{fmt.Sprintf("Unrecognized 'Edm.Int32' literal '%s' at '%d' in '%s'.", w, lit.pos, p.src)}
		}
		f.num = n
	case fkGUID:
		id, err := uuid.Parse(w)
		if err != nil || len(w) != 36 {
			if found != "" && found != "Edm.Guid" {
				return nil, incompatible(found)
			}
			return nil, &filterError{fmt.Sprintf("Unrecognized 'Edm.Guid' literal '%s' at '%d' in '%s'.", w, lit.pos, p.src)}
		}
		f.id = id
	case fkString:
		if found != "" {
			return nil, incompatible(found)
		}
		if _, known := auditColumnIndex[w]; known {
			return nil, &filterError{fmt.Sprintf("Comparing two properties ('%s' and '%s') is not supported by the Dynamics 365 emulator.", t.text, w)}
		}
		return nil, &filterError{notAProperty(w, auditEntityType)}
	}
	return f, nil
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
