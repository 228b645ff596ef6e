package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// apiPrefix is the Web API root every Dataverse route lives under.
const apiPrefix = "/api/data/v9.2/"

// Dataverse error codes (the "code" of an OData error body).
const (
	codeNone               = "0x0"
	codeRecordNotFound     = "0x80040217"
	codeSegmentNotFound    = "0x8006088a"
	codeMissingPrivilege   = "0x80040220"
	codeInvalidArgument    = "0x80040203"
	codeBadPayload         = "0x80048d19"
	codeVersionMismatch    = "0x80060882"
	codeQuerySyntax        = "0x80060888"
	payloadErrorHelpLink   = "https://go.microsoft.com/fwlink/?linkid=2195293"
	odataJSONContentType   = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
	dataverseTimeFormat    = "2006-01-02T15:04:05Z"
	systemUserTypeCode     = 8
	organizationTypeCode   = 1019
	organizationTable      = "organization"
	organizationsEntitySet = "organizations"
)

// apiRequest is a parsed Web API request: "<name>(<key>)/<rest...>".
type apiRequest struct {
	user   *principal
	name   string // entity set, function or action name
	key    string // text between the parentheses
	hasKey bool
	rest   []string // further path segments
}

func parseAPIPath(path string) (apiRequest, bool) {
	if !strings.HasPrefix(path, apiPrefix) {
		return apiRequest{}, false
	}
	segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(path, apiPrefix), "/"), "/")
	var req apiRequest
	first := segs[0]
	if i := strings.IndexByte(first, '('); i >= 0 && strings.HasSuffix(first, ")") {
		req.name, req.key, req.hasKey = first[:i], first[i+1:len(first)-1], true
	} else {
		req.name = first
	}
	req.rest = segs[1:]
	return req, true
}

// routeEnvironment names the Dataverse listener's routes for the counters.
func (s *Server) routeEnvironment(r *http.Request) string {
	req, ok := parseAPIPath(r.URL.Path)
	if !ok {
		return "other"
	}
	switch req.name {
	case "WhoAmI", organizationsEntitySet, entityDefinitionsSet, "PublishXml", "PublishAllXml", retrieveRecordHistory, batchRoute,
		retrieveEntityFunction, retrieveAllEntitiesFunction,
		routeBulkDelete, routeDeleteRecordChangeHist, asyncOperationsSet, bulkDeleteOperationsSet:
		return req.name
	case auditsEntitySet:
		if req.hasKey && len(req.rest) == 1 && strings.HasPrefix(req.rest[0], retrieveAuditDetails) {
			return routeRetrieveAuditDetls
		}
		return req.name
	}
	return "other"
}

func (s *Server) serveEnvironment(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("OData-Version", "4.0")
	reqID := uuid.NewString()
	w.Header().Set("REQ_ID", reqID)
	w.Header().Set("x-ms-service-request-id", reqID)

	user, ok := s.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer authorization_uri=%s%s/oauth2/authorize, resource_id=%s/", s.authorityHost, s.tenantID, s.environment))
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	req, ok := parseAPIPath(r.URL.Path)
	if !ok {
		writeODataError(w, http.StatusNotFound, "", fmt.Sprintf("No HTTP resource was found that matches the request URI '%s%s'.", s.environment, r.URL.RequestURI()))
		return
	}
	req.user = user
	switch req.name {
	case "WhoAmI":
		s.serveWhoAmI(w, r, req)
	case organizationsEntitySet:
		s.org.serveOrganizations(w, r, req)
	case entityDefinitionsSet:
		s.meta.serveEntityDefinitions(w, r, req)
	case retrieveEntityFunction, retrieveAllEntitiesFunction:
		s.meta.serveMetadataFunction(w, r, req)
	case "PublishXml", "PublishAllXml":
		s.publish.servePublish(w, r, req)
	case auditsEntitySet:
		s.serveAudits(w, r, req)
	case retrieveRecordHistory:
		s.serveRecordChangeHistory(w, r, req)
	case batchRoute:
		s.serveBatch(w, r, req)
	case routeBulkDelete:
		s.serveBulkDelete(w, r, req)
	case routeDeleteRecordChangeHist:
		s.serveDeleteRecordChangeHistory(w, r, req)
	case asyncOperationsSet, bulkDeleteOperationsSet:
		s.serveJobs(w, r, req)
	default:
		segment := req.name
		if req.hasKey {
			segment += "(" + req.key + ")"
		}
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", segment))
	}
}

// authenticate checks the bearer token: signed by the emulator, issued for
// this environment, not expired.
func (s *Server) authenticate(r *http.Request) (*principal, bool) {
	// instrument has verified the token already (a $batch's requests
	// carry the batch's token and context).
	if p, ok := r.Context().Value(ctxUser).(*principal); ok && p != nil {
		return p, true
	}
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, false
	}
	p, err := s.verifyAccessToken(strings.TrimSpace(token), s.environment)
	if err != nil {
		return nil, false
	}
	return p, true
}

// actionRequest checks that an unbound function or action is called
// without key or further segments and with its method; otherwise it writes
// the refusal and returns false.
func actionRequest(w http.ResponseWriter, r *http.Request, req apiRequest, method string) bool {
	if (req.hasKey && req.key != "") || len(req.rest) > 0 {
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", strings.TrimPrefix(r.URL.Path, apiPrefix)))
		return false
	}
	if r.Method != method {
		writeMethodNotAllowed(w, r, method)
		return false
	}
	return true
}

func (s *Server) serveWhoAmI(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if !actionRequest(w, r, req, http.MethodGet) {
		return
	}
	writeOData(w, http.StatusOK, object{
		{"@odata.context", s.environment + apiPrefix + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"},
		{"BusinessUnitId", s.businessUnitID},
		{"UserId", req.user.systemUserID},
		{"OrganizationId", s.org.row.id},
	})
}

// functionGetOnly admits a call of a Web API function (GET, no further path
// segment); otherwise it answers 404 or 405 as Dataverse does and returns
// false.
func functionGetOnly(w http.ResponseWriter, r *http.Request, req apiRequest) bool {
	if len(req.rest) > 0 {
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", req.rest[0]))
		return false
	}
	if r.Method != http.MethodGet {
		writeMethodNotAllowed(w, r, http.MethodGet)
		return false
	}
	return true
}

func writeMethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeODataError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method))
}

// writeODataError writes the Dataverse error body {"error":{"code","message"}}.
func writeODataError(w http.ResponseWriter, status int, code, message string) {
	writeOData(w, status, object{{"error", object{{"code", code}, {"message", message}}}})
}

func writeOData(w http.ResponseWriter, status int, body object) {
	b, err := marshalOData(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", odataJSONContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// object is a JSON object that keeps its members in order, as Dataverse
// writes them (annotations first).
type object []member

type member struct {
	name  string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	return marshalMembers(len(o), func(i int) (string, []byte, error) {
		v := o[i].value
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(dataverseTimeFormat)
		}
		b, err := json.Marshal(v)
		return o[i].name, b, err
	})
}

// marshalMembers writes a JSON object of n members, in order; member
// returns member i's name and JSON value.
func marshalMembers(n int, member func(i int) (string, []byte, error)) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i := range n {
		name, value, err := member(i)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
