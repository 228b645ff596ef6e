package emulator

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Publishing: POST PublishXml and POST PublishAllXml. Each blocks for
// PublishBaseDuration + n·PublishPerTableDuration while holding the
// environment's single solution-operation lock; a publish that arrives
// meanwhile fails at once with the CustomizationLockException.

const (
	codeCustomizationLock = "0x80071151"
	opPublish             = "Publish"
	opPublishAll          = "PublishAll"
)

type importExportXML struct {
	XMLName  xml.Name `xml:"importexportxml"`
	Entities struct {
		Entity []string `xml:"entity"`
	} `xml:"entities"`
}

func (s *Server) servePublish(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if (req.hasKey && req.key != "") || len(req.rest) > 0 {
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", strings.TrimPrefix(r.URL.Path, apiPrefix)))
		return
	}
	if r.Method != http.MethodPost {
		writeMethodNotAllowed(w, r, http.MethodPost)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		writeODataError(w, http.StatusRequestEntityTooLarge, codeBadPayload, "The request body is too large.")
		return
	}
	all := req.name == "PublishAllXml"
	var tables []string
	if all {
		if t := strings.TrimSpace(string(body)); t != "" && t != "{}" {
			writeODataError(w, http.StatusBadRequest, codeBadPayload, actionPayloadError("PublishAllXml", "The parameter '"+firstParam(body)+"' in the request payload is not a valid parameter for the operation 'PublishAllXml'."))
			return
		}
	} else {
		var msg string
		if tables, msg = parsePublishXML(body); msg != "" {
			writeODataError(w, http.StatusBadRequest, codeInvalidArgument, msg)
			return
		}
	}
	if !req.user.cfg.has(PrivPublishCustomizations) {
		s.missingMiscPrivilege(w, req.user, PrivPublishCustomizations)
		return
	}

	s.mu.Lock()
	for _, t := range tables {
		if s.meta.entities[t] == nil {
			s.mu.Unlock()
			s.entityNotFound(w, metaKey{byName: true, value: t})
			return
		}
	}
	op := opPublish
	if all {
		op = opPublishAll
	}
	if running := s.meta.running; running != "" {
		s.meta.lockConflicts++
		s.mu.Unlock()
		msg := fmt.Sprintf("Cannot start another [%s] because there is a previous [%s] running at this moment. Try again later.", op, running)
		if all {
			msg = fmt.Sprintf("Cannot start the requested operation [%s] because there is another [%s] running at this moment. Try again later.", op, running)
		}
		writeODataError(w, http.StatusTooManyRequests, codeCustomizationLock, msg)
		return
	}
	s.meta.running = op
	n := len(tables)
	if all {
		n = len(s.meta.names)
		for _, name := range s.meta.names {
			if s.meta.entities[name].unpublished() {
				tables = append(tables, name)
			}
		}
	}
	// What is published is the definition as it is now; a PUT arriving
	// while the publish runs stays unpublished.
	type snap struct {
		revision int64
		state    EntityAuditState
	}
	snaps := make(map[string]snap, len(tables))
	for _, t := range tables {
		e := s.meta.entities[t]
		snaps[t] = snap{e.revision, e.auditState()}
	}
	s.mu.Unlock()

	s.wait(s.publishBase+time.Duration(n)*s.publishPerTable, nil)

	s.mu.Lock()
	for t, sn := range snaps {
		e := s.meta.entities[t]
		e.publishedRevision = sn.revision
		e.published = sn.state
	}
	s.meta.running = ""
	s.meta.publishCount++
	s.meta.publishedTables = append(s.meta.publishedTables, slices.Clone(tables))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func actionPayloadError(action, inner string) string {
	return fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link %s  ----> InnerException : Microsoft.OData.ODataException: %s",
		action, payloadErrorHelpLink, inner)
}

func firstParam(body []byte) string {
	o, err := parseRawObject(body)
	if err != nil || len(o) == 0 {
		return strings.TrimSpace(string(body))
	}
	return o[0].name
}

// parsePublishXML reads {"ParameterXml":"<importexportxml>..."} and returns
// the tables named, without duplicates, in order.
func parsePublishXML(body []byte) ([]string, string) {
	o, err := parseRawObject(body)
	if err != nil {
		return nil, actionPayloadError("PublishXml", "Invalid JSON. A JSON object was expected for the action parameters. "+err.Error())
	}
	var paramXML string
	found := false
	for _, m := range o {
		if strings.HasPrefix(m.name, "@") {
			continue
		}
		if m.name != "ParameterXml" {
			return nil, actionPayloadError("PublishXml", fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation 'PublishXml'.", m.name))
		}
		if json.Unmarshal(m.value, &paramXML) != nil {
			return nil, actionPayloadError("PublishXml", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.String'.", m.value))
		}
		found = true
	}
	if !found || strings.TrimSpace(paramXML) == "" {
		return nil, "Required parameter 'ParameterXml' of PublishXml is missing or empty."
	}
	var doc importExportXML
	if err := xml.Unmarshal([]byte(paramXML), &doc); err != nil {
		return nil, fmt.Sprintf("The ParameterXml is not valid: %v.", err)
	}
	var tables []string
	for _, t := range doc.Entities.Entity {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	if tables == nil {
		tables = []string{}
	}
	return tables, ""
}

// missingMiscPrivilege is the 403 for a privilege that belongs to no table.
func (s *Server) missingMiscPrivilege(w http.ResponseWriter, user *principal, priv string) {
	writeODataError(w, http.StatusForbidden, codeMissingPrivilege, fmt.Sprintf(
		"Principal user (Id=%s, type=%d, roleCount=1, privilegeCount=%d, accessMode=4), is missing %s privilege (Id=%s). context.Caller=%s",
		user.systemUserID, systemUserTypeCode, user.cfg.privilegeCount(), priv, privilegeID(priv), user.systemUserID))
}

// PublishCount is the number of successful PublishXml and PublishAllXml
// requests.
func (s *Server) PublishCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta.publishCount
}

// LockConflictCount is the number of publish requests refused because
// another publish was running.
func (s *Server) LockConflictCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta.lockConflicts
}

// PublishedTables returns the tables of each successful publish, in order:
// a PublishXml's list as sent (without duplicates), a PublishAllXml's the
// tables that had unpublished changes, sorted.
func (s *Server) PublishedTables() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]string, len(s.meta.publishedTables))
	for i, t := range s.meta.publishedTables {
		out[i] = slices.Clone(t)
	}
	return out
}

// UnpublishedEntities returns the tables with unpublished changes, sorted.
func (s *Server) UnpublishedEntities() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, name := range s.meta.names {
		if s.meta.entities[name].unpublished() {
			out = append(out, name)
		}
	}
	return out
}

// IsPublished reports whether a table exists and has no unpublished changes.
func (s *Server) IsPublished(entity string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.meta.entities[entity]
	return e != nil && !e.unpublished()
}
