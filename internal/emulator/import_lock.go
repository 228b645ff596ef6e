package emulator

import (
	"encoding/json"
	"net/http"
	"time"
)

// Solution imports and metadata writes. While a solution import runs,
// Dataverse refuses other customizations with the CustomizationLockException
// (0x80071151), a metadata write as "Cannot start another
// [EntityCustomization] because there is a previous [Import] running at
// this moment" and a publish likewise. StartImport (and the control
// endpoint ImportControlPath) hold the lock as an import would; every
// refusal is decided by publishPart.solutionLockRefusal.

// StartImport makes a solution import run for d on the server's clock
// (Options.TimeSource): meanwhile publishes and metadata PUTs are refused
// with the CustomizationLockException naming [Import]. It waits while
// another operation holds the lock, then returns at once; the import ends
// by itself. A d <= 0 starts nothing.
func (s *Server) StartImport(d time.Duration) {
	if d <= 0 {
		return
	}
	release := s.publish.hold(opImport)
	go func() {
		s.wait(d, nil)
		release()
	}()
}

// metadataWriteRefusal is the lock's answer to a metadata PUT: the
// CustomizationLockException message, or "" when the PUT may run. A
// refusal counts in LockConflictCount.
func (pub *publishPart) metadataWriteRefusal() string {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	msg := pub.solutionLockRefusal(opEntityCustomization)
	if msg != "" {
		pub.lockConflicts++
	}
	return msg
}

// customizationLockError is the refusal of a metadata PUT while another
// solution operation holds the lock, with the status and code a locked
// publish gets. Called without md.mu.
func (md *metadataPart) customizationLockError() *httpError {
	if md.customizationLock == nil {
		return nil
	}
	if msg := md.customizationLock(); msg != "" {
		return &httpError{http.StatusTooManyRequests, codeCustomizationLock, msg}
	}
	return nil
}

// ImportControlPath is the test-only control endpoint that starts a
// solution import (StartImport): POST an ImportRequest with the
// X-Emulator-Control-Key header. The answer comes once the import has
// started.
const ImportControlPath = "/_emulator/import"

// ImportRequest is the JSON body of POST ImportControlPath.
type ImportRequest struct {
	// DurationSeconds is how long the import runs, 1 to 86400.
	DurationSeconds float64 `json:"durationSeconds"`
}

func (s *Server) serveImportControl(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		controlError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	var req ImportRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		controlError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if req.DurationSeconds < 1 || req.DurationSeconds > 86400 {
		controlError(w, http.StatusBadRequest, "durationSeconds must be between 1 and 86400")
		return
	}
	s.StartImport(time.Duration(req.DurationSeconds * float64(time.Second)))
	w.WriteHeader(http.StatusNoContent)
}
