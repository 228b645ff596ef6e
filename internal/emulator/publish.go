package emulator

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
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
	// opEntityCustomization is a metadata write (table or column PUT).
	opEntityCustomization = "EntityCustomization"
	opImport              = "Import"
)

type importExportXML struct {
	XMLName  xml.Name `xml:"importexportxml"`
	Entities struct {
		Entity []string `xml:"entity"`
	} `xml:"entities"`
}

// publishPart is publishing (PublishXml, PublishAllXml) and the
// environment's single solution-operation lock. It reads and updates the
// metadata part's tables; lock order: publishPart.mu before metadataPart.mu.
type publishPart struct {
	*shared
	meta     *metadataPart
	base     time.Duration // PublishBaseDuration
	perTable time.Duration // PublishPerTableDuration
	// writesDuringPublish: Options.AcceptMetadataWritesDuringPublish.
	writesDuringPublish bool

	mu              sync.Mutex
	running         string        // the solution operation holding the lock ("Publish", "PublishAll", a test's) or ""
	released        chan struct{} // closed when the running operation releases the lock
	publishCount    int
	lockConflicts   int
	publishedTables [][]string
}

func newPublishPart(sh *shared, meta *metadataPart, opts Options) *publishPart {
	return &publishPart{
		shared:              sh,
		meta:                meta,
		base:                optionOrDefault(opts.PublishBaseDuration, defaultPublishBase),
		perTable:            optionOrDefault(opts.PublishPerTableDuration, defaultPublishPerTable),
		writesDuringPublish: opts.AcceptMetadataWritesDuringPublish,
	}
}

// solutionLockRefusal decides whether the solution (customization) lock
// refuses operation op: it returns the CustomizationLockException message,
// or "" when op may run. Every operation that takes or respects the lock
// asks here. Caller holds pub.mu.
func (pub *publishPart) solutionLockRefusal(op string) string {
	if pub.running == "" {
		return ""
	}
	if op == opEntityCustomization && pub.writesDuringPublish && (pub.running == opPublish || pub.running == opPublishAll) {
		// Options.AcceptMetadataWritesDuringPublish: the PUT is saved and
		// stays unpublished (see servePublish).
		return ""
	}
	if op == opPublishAll {
		return fmt.Sprintf("Cannot start the requested operation [%s] because there is another [%s] running at this moment. Try again later.", op, pub.running)
	}
	return fmt.Sprintf("Cannot start another [%s] because there is a previous [%s] running at this moment. Try again later.", op, pub.running)
}

// acquire takes the lock for op. Caller holds pub.mu and has checked
// solutionLockRefusal.
func (pub *publishPart) acquire(op string) {
	pub.running = op
	pub.released = make(chan struct{})
}

// release frees the lock. Caller holds pub.mu.
func (pub *publishPart) release() {
	pub.running = ""
	close(pub.released)
}

// HoldCustomizationLock makes the environment's solution (customization)
// lock busy with operation, as a long import or publish would, until
// release is called: meanwhile PublishXml and PublishAllXml are refused
// with the CustomizationLockException naming operation, counted by
// LockConflictCount. It waits while another operation holds the lock.
// Calling release more than once is harmless. For tests.
func (s *Server) HoldCustomizationLock(operation string) (release func()) {
	return s.publish.hold(operation)
}

func (pub *publishPart) hold(operation string) func() {
	for {
		pub.mu.Lock()
		if pub.running == "" {
			pub.acquire(operation)
			pub.mu.Unlock()
			break
		}
		released := pub.released
		pub.mu.Unlock()
		<-released
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pub.mu.Lock()
			defer pub.mu.Unlock()
			pub.release()
		})
	}
}

func (pub *publishPart) servePublish(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if !actionRequest(w, r, req, http.MethodPost) {
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
		missingMiscPrivilege(w, req.user, PrivPublishCustomizations)
		return
	}
	op := opPublish
	if all {
		op = opPublishAll
	}

	pub.mu.Lock()
	pub.meta.mu.Lock()
	for _, t := range tables {
		if pub.meta.store.entities[t] == nil {
			pub.meta.mu.Unlock()
			pub.mu.Unlock()
			entityNotFound(w, metaKey{byName: true, value: t})
			return
		}
	}
	if msg := pub.solutionLockRefusal(op); msg != "" {
		pub.lockConflicts++
		pub.meta.mu.Unlock()
		pub.mu.Unlock()
		writeODataError(w, http.StatusTooManyRequests, codeCustomizationLock, msg)
		return
	}
	pub.acquire(op)
	n := len(tables)
	if all {
		n = len(pub.meta.store.names)
		for _, name := range pub.meta.store.names {
			if pub.meta.store.entities[name].unpublished() {
				tables = append(tables, name)
			}
		}
	}
	// What is published is the definition as it is now; a PUT arriving
	// while the publish runs stays unpublished.
	snaps := make(map[string]publishedCopy, len(tables))
	for _, t := range tables {
		snaps[t] = pub.meta.store.entities[t].snapshot()
	}
	pub.meta.mu.Unlock()
	pub.mu.Unlock()

	pub.wait(pub.base+time.Duration(n)*pub.perTable, nil)

	pub.mu.Lock()
	pub.meta.mu.Lock()
	for t, snap := range snaps {
		pub.meta.store.entities[t].published = snap
	}
	pub.meta.mu.Unlock()
	pub.release()
	pub.publishCount++
	pub.publishedTables = append(pub.publishedTables, slices.Clone(tables))
	pub.mu.Unlock()
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

// PublishCount is the number of successful PublishXml and PublishAllXml
// requests.
func (s *Server) PublishCount() int {
	return locked(&s.publish.mu, func() int { return s.publish.publishCount })
}

// LockConflictCount is the number of publish requests and metadata PUTs
// refused because another solution operation held the lock.
func (s *Server) LockConflictCount() int {
	return locked(&s.publish.mu, func() int { return s.publish.lockConflicts })
}

// PublishedTables returns the tables of each successful publish, in order:
// a PublishXml's list as sent (without duplicates), a PublishAllXml's the
// tables that had unpublished changes, sorted.
func (s *Server) PublishedTables() [][]string {
	s.publish.mu.Lock()
	defer s.publish.mu.Unlock()
	out := make([][]string, len(s.publish.publishedTables))
	for i, t := range s.publish.publishedTables {
		out[i] = slices.Clone(t)
	}
	return out
}

// UnpublishedEntities returns the tables with unpublished changes, sorted.
func (s *Server) UnpublishedEntities() []string {
	s.meta.mu.Lock()
	defer s.meta.mu.Unlock()
	var out []string
	for _, name := range s.meta.store.names {
		if s.meta.store.entities[name].unpublished() {
			out = append(out, name)
		}
	}
	return out
}

// IsPublished reports whether a table exists and has no unpublished changes.
func (s *Server) IsPublished(entity string) bool {
	s.meta.mu.Lock()
	defer s.meta.mu.Unlock()
	e := s.meta.store.entities[entity]
	return e != nil && !e.unpublished()
}
