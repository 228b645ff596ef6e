package emulator

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// The $filter subset of the audits entity set (parsed by odata_filter.go): comparisons
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

// auditFilter is a parsed $filter on audits.
type auditFilter = filterExpr[*auditRow]

// auditFilterGrammar is the audits' part of the $filter grammar: all of
// and, or, not and parentheses, and the comparisons of auditComparison.
var auditFilterGrammar = filterGrammar[*auditRow]{comparison: auditComparison}

// parseAuditFilter parses a $filter value; errors are *filterError.
func parseAuditFilter(src string) (auditFilter, error) {
	return parseODataFilter(src, auditFilterGrammar)
}

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

// auditComparison reads one audits comparison: a supported column, one of
// eq ne gt ge lt le, and a literal of the column's type.
func auditComparison(p *filterTokens) (auditFilter, error) {
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
