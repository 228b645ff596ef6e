package emulator

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The emulator is a façade (Server) over parts. Each part owns its state
// and the lock that guards it; handlers are methods of the part whose
// state they serve:
//
//	part          file(s)                                   state
//	simulation    simulate*.go, unified.go (Simulate*)       simulated records
//	publishPart   publish.go                                 the solution (customization) lock, publish counts
//	metadataPart  metadata*.go                               table and column definitions, solutions
//	orgPart       organization.go                            the organizations row, row versions
//	graphPart     graph*.go, unified.go                      the unified (Purview) log, audit log queries
//	auditStore    audit.go                                   audit rows (shared by every part above)
//	entraDirectory, idSource, requestCounters, faultInjector, serviceLimits
//
// Lock order. A part may call a part further down this list while it holds
// its own lock, never one further up:
//
//	simulation.mu → publishPart.mu → metadataPart.mu → orgPart.mu → graphPart.mu
//	  → auditStore.mu, entraDirectory.mu, idSource.mu (leaves: they call no part)
//
// requestCounters, faultInjector and serviceLimits hold only their own
// lock and call no part. The audit API (audit_api.go, audit_history.go)
// takes the metadata and simulation locks one at a time, never nested.

// locked is get's result, read holding mu: the Server's getters of a
// part's counts and settings.
func locked[T any](mu *sync.Mutex, get func() T) T {
	mu.Lock()
	defer mu.Unlock()
	return get()
}

// withLock runs set holding mu: the Server's setters of a part's settings.
func withLock(mu *sync.Mutex, set func()) {
	mu.Lock()
	defer mu.Unlock()
	set()
}

// shared is what every part reaches by reference: the leaf parts (audit
// store, directory, ids), the clocks, the URLs and the close signal. Its
// fields are set before the listeners start and never change.
type shared struct {
	tenantID      string
	environment   string // https://127.0.0.1:PORT
	authorityHost string // https://127.0.0.1:PORT2/
	graphURL      string // https://127.0.0.1:PORT3

	audits *auditStore
	entra  *entraDirectory
	ids    *idSource        // audit, record, query and log ids
	clock  func() time.Time // audit row stamps
	timers Clock            // every timer and window
	closed chan struct{}    // closed by Close: ends publish waits

	auditValues    auditValueStyle // Options.AnnotatedAuditValues
	noSettingsRows bool            // Options.NoSettingsAuditRows
}

// now is the (UTC) time API writes carry.
func (sh *shared) now() time.Time { return sh.clock().UTC() }

// newUUID returns a random (version 4) id.
func (sh *shared) newUUID() uuid.UUID { return sh.ids.newUUID() }

// wait blocks for d on the server's clock, or until cancel is closed or
// the server closes. It returns at once when d <= 0.
func (sh *shared) wait(d time.Duration, cancel <-chan struct{}) {
	if d <= 0 {
		return
	}
	select {
	case <-sh.timers.After(d):
	case <-cancel:
	case <-sh.closed:
	}
}

// missingPrivilege writes Dataverse's 403 for a user without priv on table.
func missingPrivilege(w http.ResponseWriter, user *principal, priv string, typeCode int, table string) {
	writeODataError(w, http.StatusForbidden, codeMissingPrivilege, fmt.Sprintf(
		"Principal user (Id=%s, type=%d, roleCount=1, privilegeCount=%d, accessMode=4), is missing %s privilege (Id=%s) on OTC=%d for entity '%s'. context.Caller=%s",
		user.systemUserID, systemUserTypeCode, user.cfg.privilegeCount(), priv, privilegeID(priv), typeCode, table, user.systemUserID))
}

// missingMiscPrivilege is the 403 for a privilege that belongs to no table.
func missingMiscPrivilege(w http.ResponseWriter, user *principal, priv string) {
	writeODataError(w, http.StatusForbidden, codeMissingPrivilege, fmt.Sprintf(
		"Principal user (Id=%s, type=%d, roleCount=1, privilegeCount=%d, accessMode=4), is missing %s privilege (Id=%s). context.Caller=%s",
		user.systemUserID, systemUserTypeCode, user.cfg.privilegeCount(), priv, privilegeID(priv), user.systemUserID))
}
