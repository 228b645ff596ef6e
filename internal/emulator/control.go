package emulator

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The control endpoint lets a separate process (the standalone command's
// "simulate" sub-command) drive a running emulator. It lives outside the
// Web API root under /_emulator/, which no Dataverse URL uses, is enabled
// only with Options.ControlKey, and is not counted in the request counters.

// ControlPath is the test-only endpoint that runs SimulateActivity.
const ControlPath = "/_emulator/simulate"

// ControlKeyHeader carries Options.ControlKey on control requests.
const ControlKeyHeader = "X-Emulator-Control-Key"

// SimulateRequest is the JSON body of POST ControlPath. Zero values mean
// the ActivityOptions defaults.
type SimulateRequest struct {
	Seed    int64     `json:"seed"`
	Actions int       `json:"actions"`
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	Tables  []string  `json:"tables,omitempty"`
	Users   int       `json:"users,omitempty"`
}

// SimulateResponse is the JSON answer of POST ControlPath.
type SimulateResponse struct {
	Creates          int `json:"creates"`
	Updates          int `json:"updates"`
	Deletes          int `json:"deletes"`
	SignIns          int `json:"signIns"`
	AuditRowsWritten int `json:"auditRowsWritten"`
	// Reads (Retrieve and RetrieveMultiple), Exports (ExportToExcel) and
	// the unified audit log records the settings let them write.
	Reads                 int `json:"reads"`
	Exports               int `json:"exports"`
	PurviewRecordsWritten int `json:"purviewRecordsWritten"`
}

func (s *Server) serveEnvironmentListener(w http.ResponseWriter, r *http.Request) {
	if s.controlKey != "" && strings.HasPrefix(r.URL.Path, "/_emulator/") {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		s.serveControlRequest(rec, r)
		if s.onRequest != nil {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			s.onRequest(RequestInfo{Listener: ListenerEnvironment, Method: r.Method, Path: r.URL.Path, Route: "control", Status: status, Duration: time.Since(start)})
		}
		return
	}
	s.envHandler.ServeHTTP(w, r)
}

func controlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// controlKeyMatches checks the control key header in constant time; on a
// missing or wrong key it answers 401 and returns false.
func (s *Server) controlKeyMatches(w http.ResponseWriter, r *http.Request) bool {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(ControlKeyHeader)), []byte(s.controlKey)) != 1 {
		controlError(w, http.StatusUnauthorized, "missing or wrong "+ControlKeyHeader)
		return false
	}
	return true
}

// readControlPost reads the body of a control POST of at most 1 MiB; on any
// other method or a larger body it answers the error and returns false.
func readControlPost(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		controlError(w, http.StatusMethodNotAllowed, "use POST")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		controlError(w, http.StatusRequestEntityTooLarge, "body too large")
		return nil, false
	}
	return body, true
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	if !s.controlKeyMatches(w, r) {
		return
	}
	if r.URL.Path == ImportControlPath {
		s.serveImportControl(w, r)
		return
	}
	if r.URL.Path != ControlPath {
		controlError(w, http.StatusNotFound, "unknown control endpoint "+r.URL.Path)
		return
	}
	body, ok := readControlPost(w, r)
	if !ok {
		return
	}
	var req SimulateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		controlError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if req.Actions < 0 || req.Actions > 1_000_000 {
		controlError(w, http.StatusBadRequest, "actions must be between 0 and 1000000")
		return
	}
	for _, t := range req.Tables {
		if s.meta.table(t) == nil {
			controlError(w, http.StatusBadRequest, fmt.Sprintf("no table %q", t))
			return
		}
	}
	sum := s.SimulateActivity(ActivityOptions(req))
	writeJSON(w, http.StatusOK, SimulateResponse(sum))
}
