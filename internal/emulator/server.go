// Package emulator is a stateful fake of Microsoft Entra ID login, the
// Dataverse Web API and the Microsoft Graph audit log query API (the
// Purview unified audit log), served over HTTPS on loopback with its own CA.
//
// It imitates the real services as the project's shared/dataverse-api.md
// documents them (URLs, payload shapes, status codes and error bodies) and
// nothing friendlier, so that code tested against it behaves the same against
// a real environment. Every Server is independent: tests may run many in parallel in
// one process.
package emulator

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configures a Server. The zero value is valid.
type Options struct {
	// TenantID is the directory (tenant) id served by the login listener.
	// Default: a random GUID.
	TenantID string
	// TokenLifetime is the lifetime of issued access tokens (JWT exp; and,
	// unless AdvertisedTokenLifetime says otherwise, the token response's
	// expires_in, which is one second less, as Entra does). Default: 1
	// hour. Resource listeners reject a token (401) once it has passed.
	TokenLifetime time.Duration
	// AdvertisedTokenLifetime is the lifetime the token endpoint announces
	// (expires_in, one second less; the managed identity endpoint's
	// expires_on), which is how long MSAL caches a token. Default:
	// TokenLifetime. Set it longer than TokenLifetime to make tokens expire
	// while clients still hold them (e.g. TokenLifetime 2 s, advertised
	// 1 h): the client then gets 401 and must ask for a fresh token.
	AdvertisedTokenLifetime time.Duration
	// OnRequest, when set, is called once per request on any listener after
	// the response is written. It receives no headers, query or body, so it can
	// be logged without leaking secrets or tokens. It must be safe for
	// concurrent use.
	OnRequest func(RequestInfo)
	// PublishBaseDuration and PublishPerTableDuration set how long a
	// PublishXml or PublishAllXml request takes: base + n·per-table, n the
	// number of tables published (all tables for PublishAllXml). The
	// request blocks that long and holds the environment's solution lock.
	// Zero means the defaults, 50 ms and 2 ms; a negative value means none.
	PublishBaseDuration     time.Duration
	PublishPerTableDuration time.Duration
	// Clock is the time audit rows written through the API (organization
	// PATCH, metadata PUT, UpdateOrganization, UpdateEntityAudit) carry.
	// Default: TimeSource.Now. It must be safe for concurrent use.
	// Simulations take their times as arguments.
	Clock func() time.Time
	// TimeSource is the clock every emulator timer and window runs on
	// (publish durations, Graph query delays, fault latency, service
	// protection windows); see Clock the type. Default: the real clock.
	TimeSource Clock
	// ControlKey, when set, enables the test-only control endpoint
	// POST /_emulator/simulate on the environment listener (see
	// ControlPath); requests must carry it in the X-Emulator-Control-Key
	// header. It is never a Dataverse route.
	ControlKey string
	// GraphQueryDelay is how long a Graph audit log query takes: it is
	// notStarted for the first half, running for the second, then
	// succeeded (or failed, see FailAuditQueries). Zero means the default,
	// 300 ms; a negative value means queries succeed at once. Real
	// queries take minutes; Microsoft documents no typical time.
	GraphQueryDelay time.Duration
	// GraphPageSize is the number of records a page of
	// GET …/queries/{id}/records holds at most (and the largest $top
	// honoured). Default 1000. Microsoft does not document the real page
	// size, so clients must follow @odata.nextLink whatever it is.
	GraphPageSize int
	// ExtraCustomTables adds that many generated unmanaged custom tables
	// (new_bench0001, new_bench0002, …), each with ten auditable columns,
	// to the catalogue, for benchmarks over hundreds of tables. Default 0.
	ExtraCustomTables int

	// Dataverse service protection limits, per user (the calling
	// principal) on the environment listener; see dataverse-api.md and
	// limits.go. Zero means the documented default, a negative value no
	// limit.
	//
	// MaxConcurrentPerUser bounds the requests a user has in flight
	// (default 52); LimitWindow is the sliding window (default 5 minutes)
	// over which RequestsPerWindow (default 6000) requests and
	// ExecutionTimePerWindow (default 20 minutes) of combined execution
	// time are allowed.
	MaxConcurrentPerUser   int
	RequestsPerWindow      int
	LimitWindow            time.Duration
	ExecutionTimePerWindow time.Duration
}

const (
	defaultPublishBase     = 50 * time.Millisecond
	defaultPublishPerTable = 2 * time.Millisecond
	defaultGraphQueryDelay = 300 * time.Millisecond
	defaultGraphPageSize   = 1000
)

func durationOption(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// RequestInfo describes one handled request, for logging.
type RequestInfo struct {
	Listener string // "login", "environment" or "graph"
	Method   string
	Path     string // URL path only (never the query or headers)
	Route    string // route name, as used by the request counters
	Status   int    // 0 when an injected fault reset the connection
	Duration time.Duration
}

// Listener names, as used in RequestInfo.Listener.
const (
	ListenerLogin       = "login"
	ListenerEnvironment = "environment"
	ListenerGraph       = "graph"
)

// Server is a running emulator: one TLS listener for the login (authority)
// host, one for the Dataverse environment and one for Microsoft Graph.
type Server struct {
	tenantID       string
	tokenLifetime  time.Duration
	advertisedLife time.Duration // expires_in / expires_on
	onRequest      func(RequestInfo)
	limits         limitConfig

	ca     *certAuthority
	caDir  string
	caFile string
	pool   *x509.CertPool
	client *http.Client

	loginSrv      *http.Server
	envSrv        *http.Server
	graphSrv      *http.Server
	environment   string // https://127.0.0.1:PORT
	authorityHost string // https://127.0.0.1:PORT2/
	graphURL      string // https://127.0.0.1:PORT3

	tokenKey     *signingKey
	federatedKey *signingKey

	// mu guards all emulated state below.
	mu             sync.Mutex
	clients        map[string]*appClient // by client id
	principalByOID map[string]*principal // by Entra object id (token oid claim)
	admin          *principal            // the portal administrator of UpdateOrganization
	audiences      map[string]bool       // resources tokens can be issued for (no trailing slash)
	businessUnitID string
	versionSeq     int64
	org            *orgRow
	audits         auditStore
	meta           *metaStore
	idRand         *rand.ChaCha8 // audit and record ids
	clock          func() time.Time // audit row stamps
	timers         Clock            // every timer and window
	records        map[string]map[uuid.UUID]*simRecord // table -> id -> record
	simUsers       []*principal                        // AddUser order
	userByID       map[string]*principal               // by systemuserid
	controlKey     string
	envHandler     http.Handler           // the instrumented Dataverse handler ($batch parts run through it)
	unified        []*unifiedRecord       // the Purview unified audit log, in write order
	graphQueries   map[string]*graphQuery // by id
	failQueries    bool                   // FailAuditQueries
	upnTaken       map[string]bool        // user principal names in use
	graphDelay     time.Duration
	graphPageSize  int

	publishBase     time.Duration
	publishPerTable time.Duration
	closed          chan struct{} // closed by Close: ends publish waits

	cmu    sync.Mutex
	counts map[string]int
	writes int
	faults map[string][]Fault // InjectFaults, by counter key
	rules  faultRules         // SetFaultRules
	// injected counts answers replaced by InjectFaults or SetFaultRules.
	injected int
	// tokensIssued counts access tokens issued by the token and managed
	// identity endpoints, by client id.
	tokensIssued map[string]int

	lmu       sync.Mutex
	userLimit map[string]*userLimitState // by systemuserid
	inFlight  int
	highWater int
	reqLog    requestLog

	// idmu guards the GitHub Actions request tokens and managed
	// identity headers.
	idmu         sync.Mutex
	githubTokens map[string]string // request token -> subject
	miByHeader   map[string]string // X-IDENTITY-HEADER -> client id
	managedIDs   map[string]bool   // client ids registered by ManagedIdentity

	closeOnce sync.Once
}

// Start generates keys and certificates and starts the three listeners on
// 127.0.0.1 with random ports.
func Start(opts Options) (*Server, error) {
	s := &Server{
		tenantID:        opts.TenantID,
		tokenLifetime:   opts.TokenLifetime,
		onRequest:       opts.OnRequest,
		clients:         map[string]*appClient{},
		principalByOID:  map[string]*principal{},
		audiences:       map[string]bool{},
		counts:          map[string]int{},
		businessUnitID:  uuid.NewString(),
		versionSeq:      1_480_000 + time.Now().Unix()%100_000,
		meta:            newMetaStore(opts.ExtraCustomTables),
		publishBase:     durationOption(opts.PublishBaseDuration, defaultPublishBase),
		publishPerTable: durationOption(opts.PublishPerTableDuration, defaultPublishPerTable),
		closed:          make(chan struct{}),
		clock:           opts.Clock,
		records:         map[string]map[uuid.UUID]*simRecord{},
		userByID:        map[string]*principal{},
		controlKey:      opts.ControlKey,
		graphQueries:    map[string]*graphQuery{},
		upnTaken:        map[string]bool{},
		graphDelay:      durationOption(opts.GraphQueryDelay, defaultGraphQueryDelay),
		graphPageSize:   opts.GraphPageSize,
		faults:          map[string][]Fault{},
		tokensIssued:    map[string]int{},
		userLimit:       map[string]*userLimitState{},
		githubTokens:    map[string]string{},
		miByHeader:      map[string]string{},
		managedIDs:      map[string]bool{},
		limits:          newLimitConfig(opts),
	}
	if s.graphPageSize <= 0 {
		s.graphPageSize = defaultGraphPageSize
	}
	var seed [32]byte
	crand.Read(seed[:])
	s.idRand = rand.NewChaCha8(seed)
	s.timers = opts.TimeSource
	if s.timers == nil {
		s.timers = realClock{}
	}
	if s.clock == nil {
		s.clock = s.timers.Now
	}
	if s.tenantID == "" {
		s.tenantID = uuid.NewString()
	}
	if s.tokenLifetime <= 0 {
		s.tokenLifetime = time.Hour
	}
	s.advertisedLife = opts.AdvertisedTokenLifetime
	if s.advertisedLife <= 0 {
		s.advertisedLife = s.tokenLifetime
	}

	var err error
	if s.ca, err = newCertAuthority(); err != nil {
		return nil, err
	}
	leaf, err := s.ca.serverCertificate()
	if err != nil {
		return nil, err
	}
	if s.tokenKey, err = newSigningKey("Dynamics 365 Emulator token signing"); err != nil {
		return nil, err
	}
	if s.federatedKey, err = newSigningKey("Dynamics 365 Emulator federated issuer"); err != nil {
		return nil, err
	}
	s.pool = x509.NewCertPool()
	s.pool.AddCert(s.ca.cert)
	s.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}}

	if s.caDir, err = os.MkdirTemp("", "dynamics365-emulator-"); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	s.caFile = filepath.Join(s.caDir, "ca.pem")
	if err := os.WriteFile(s.caFile, s.ca.certPEM, 0o644); err != nil {
		_ = os.RemoveAll(s.caDir)
		return nil, fmt.Errorf("write CA file: %w", err)
	}

	loginLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(s.caDir)
		return nil, err
	}
	envLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = loginLn.Close()
		_ = os.RemoveAll(s.caDir)
		return nil, err
	}
	graphLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = loginLn.Close()
		_ = envLn.Close()
		_ = os.RemoveAll(s.caDir)
		return nil, err
	}
	s.authorityHost = fmt.Sprintf("https://%s/", loginLn.Addr().String())
	s.environment = fmt.Sprintf("https://%s", envLn.Addr().String())
	s.graphURL = fmt.Sprintf("https://%s", graphLn.Addr().String())
	s.audiences[s.environment] = true
	s.audiences[s.graphURL] = true

	s.admin = s.newPrincipal("Emulator Administrator", clientConfig{})
	s.org = newOrgRow(s)

	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{leaf},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	quiet := log.New(io.Discard, "", 0) // TLS handshake noise from clients that do not trust the CA
	s.loginSrv = &http.Server{
		Handler:           s.instrument(ListenerLogin, s.routeLogin, s.serveLogin),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quiet,
	}
	s.envHandler = s.instrument(ListenerEnvironment, s.routeEnvironment, s.serveEnvironment)
	s.envSrv = &http.Server{
		Handler:           http.HandlerFunc(s.serveEnvironmentListener),
		TLSConfig:         tlsConfig.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quiet,
	}
	s.graphSrv = &http.Server{
		Handler:           s.instrument(ListenerGraph, s.routeGraph, s.serveGraph),
		TLSConfig:         tlsConfig.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quiet,
	}
	go serve(s.loginSrv, loginLn)
	go serve(s.envSrv, envLn)
	go serve(s.graphSrv, graphLn)
	return s, nil
}

func serve(srv *http.Server, ln net.Listener) {
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("dynamics365 emulator: serve %s: %v", ln.Addr(), err)
	}
}

// Close stops all listeners, gives in-flight requests a moment (250 ms) to
// finish, closes all connections and removes the CA file's temporary
// directory. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		// Our own client's idle HTTP/2 connections would otherwise hold
		// Shutdown until its timeout.
		s.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		for _, srv := range []*http.Server{s.loginSrv, s.envSrv, s.graphSrv} {
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
		}
		s.client.CloseIdleConnections()
		_ = os.RemoveAll(s.caDir)
	})
}

// EnvironmentURL is the Dataverse environment URL, without a trailing slash.
func (s *Server) EnvironmentURL() string { return s.environment }

// AuthorityHost is the login host (azidentity's ActiveDirectoryAuthorityHost),
// with a trailing slash.
func (s *Server) AuthorityHost() string { return s.authorityHost }

// GraphURL is the Microsoft Graph root (like https://graph.microsoft.com),
// without a trailing slash or version segment. Tokens for it are requested
// with scope GraphURL()+"/.default".
func (s *Server) GraphURL() string { return s.graphURL }

// TenantID is the directory id the login listener serves.
func (s *Server) TenantID() string { return s.tenantID }

// CAFile is the path of the CA certificate PEM file. It is removed by Close.
func (s *Server) CAFile() string { return s.caFile }

// CAPEM returns the CA certificate in PEM form.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.ca.certPEM...) }

// CertPool returns a new pool holding only the emulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool.Clone() }

// HTTPClient returns a client that trusts the emulator's CA and uses no proxy.
// All calls return the same client.
func (s *Server) HTTPClient() *http.Client { return s.client }

// OrganizationID is the id of the environment's single organizations row.
func (s *Server) OrganizationID() string { return s.org.id }

// BusinessUnitID is the root business unit every user belongs to.
func (s *Server) BusinessUnitID() string { return s.businessUnitID }

// statusRecorder captures the status written by a handler.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// ctxKey keys the values instrument passes down in a request's context.
type ctxKey int

const (
	ctxBatchPart ctxKey = iota // set on the requests a $batch runs
	ctxUser                    // the authenticated *principal (environment listener)
)

// instrument counts every request under "<METHOD> <route>" before it is
// handled (so refused requests count too) and reports it to OnRequest.
//
// A top-level request then goes through, in order: InjectFaults (an exact
// fault answers at once, and a consumed entry, even a zero Fault, turns
// the fault rules off for that request); on the environment listener the
// service protection limits of its (authenticated) user; the fault rules'
// latency; a before-handler rule fault, or the handler followed by an
// after-handler rule fault. Requests inside a $batch only count, report
// and consume InjectFaults (see servePart).
func (s *Server) instrument(listener string, route func(*http.Request) string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		name := route(r)
		key := r.Method + " " + name
		s.count(key, listener == ListenerEnvironment && r.Method != http.MethodGet)
		if r.Context().Value(ctxBatchPart) != nil {
			s.servePart(w, r, listener, name, key, start, next)
			return
		}
		user := s.requestUser(listener, r)
		if user != nil && listener == ListenerEnvironment {
			r = r.WithContext(context.WithValue(r.Context(), ctxUser, user))
		}
		finish := func(status int) {
			end := time.Now()
			if s.onRequest != nil {
				s.onRequest(RequestInfo{
					Listener: listener,
					Method:   r.Method,
					Path:     r.URL.Path,
					Route:    name,
					Status:   status,
					Duration: end.Sub(start),
				})
			}
			rec := RequestRecord{Listener: listener, Method: r.Method, Route: name, Start: start, End: end, Status: status}
			if user != nil {
				rec.User, rec.ClientID = user.systemUserID, user.appID
			}
			s.logRequest(rec)
		}
		answer := func(f Fault) {
			s.countInjected()
			if f.Reset {
				finish(0)
				resetConnection(w)
				return
			}
			s.writeFault(w, r, listener, f)
			finish(f.Status)
		}

		f, exact := s.nextFault(key)
		if exact && (f.Reset || f.Status != 0) {
			answer(f)
			return
		}
		var ticket *limitTicket
		if listener == ListenerEnvironment && user != nil {
			t, refusal := s.admit(user, s.timers.Now())
			if refusal != nil {
				s.writeLimitRefusal(w, refusal)
				finish(http.StatusTooManyRequests)
				return
			}
			ticket = t
			// Also on panics (resets); release is idempotent.
			defer s.release(ticket)
		}
		var plan faultPlan
		if !exact {
			plan = s.planFault(listener, key)
		}
		s.wait(plan.latency, r.Context().Done())
		if plan.inject && !plan.after {
			s.release(ticket)
			answer(plan.fault)
			return
		}
		if ticket == nil && !plan.inject {
			rec := &statusRecorder{ResponseWriter: w}
			next(rec, r)
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			finish(status)
			return
		}
		// Buffer the answer, so that the request leaves the user's
		// in-flight count before the client can see it (a client that
		// sends its next request on receipt is never refused for
		// concurrency by its own finished request), and so that an
		// after-handler fault can replace it.
		buf := newBufferedResponse()
		next(buf, r)
		s.release(ticket)
		if plan.inject {
			answer(plan.fault)
			return
		}
		buf.replay(w)
		finish(buf.status)
	})
}

// servePart handles a request run by $batch: it consumes InjectFaults and
// reports, nothing else (the batch is one request for limits, fault rules
// and the request log).
func (s *Server) servePart(w http.ResponseWriter, r *http.Request, listener, name, key string, start time.Time, next http.HandlerFunc) {
	report := func(status int) {
		if s.onRequest != nil {
			s.onRequest(RequestInfo{
				Listener: listener,
				Method:   r.Method,
				Path:     r.URL.Path,
				Route:    name,
				Status:   status,
				Duration: time.Since(start),
			})
		}
	}
	if f, ok := s.nextFault(key); ok && (f.Reset || f.Status != 0) {
		s.countInjected()
		if f.Reset {
			report(0)
			resetConnection(w)
			return
		}
		s.writeFault(w, r, listener, f)
		report(f.Status)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	next(rec, r)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	report(status)
}

// requestUser returns the principal a resource listener's bearer token
// stands for, or nil (login listener, no or invalid token).
func (s *Server) requestUser(listener string, r *http.Request) *principal {
	var audience string
	switch listener {
	case ListenerEnvironment:
		audience = s.environment
	case ListenerGraph:
		audience = s.graphURL
	default:
		return nil
	}
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil
	}
	p, err := s.verifyAccessToken(strings.TrimSpace(token), audience)
	if err != nil {
		return nil
	}
	return p
}

// bufferedResponse holds a handler's answer until instrument replays it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}}
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) replay(w http.ResponseWriter) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

func (s *Server) count(key string, write bool) {
	s.cmu.Lock()
	s.counts[key]++
	if write {
		s.writes++
	}
	s.cmu.Unlock()
}

// RequestCount returns how many requests were received for key, which is
// "<METHOD> <route>", e.g. "POST token", "GET openid-configuration",
// "GET keys", "GET github-idtoken" (GitHubActionsOIDC), "GET msi-token"
// (ManagedIdentity), "GET WhoAmI", "GET organizations", "PATCH organizations",
// "GET EntityDefinitions" (every metadata read, columns included),
// "PUT EntityDefinitions" (every metadata write), "POST PublishXml",
// "POST PublishAllXml", "GET audits" (collection and single row),
// "GET RetrieveAuditDetails", "GET RetrieveRecordChangeHistory",
// "POST $batch" (each request inside a batch also counts under its own
// route), or "GET other" for requests no route matched; on the Graph
// listener "POST auditLogQueries", "GET auditLogQueries" (list),
// "GET auditLogQuery", "GET auditLogRecords", or "GET graph-other". The
// control endpoint is not counted. Refused requests (401, 403, 4xx,
// service protection 429s, injected faults) count too.
func (s *Server) RequestCount(key string) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.counts[key]
}

// Requests returns a copy of all request counters.
func (s *Server) Requests() map[string]int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// WriteCount is the number of non-GET requests received by the Dataverse
// listener, whether accepted or refused.
func (s *Server) WriteCount() int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.writes
}

// ResetCounters sets all request counters, WriteCount, InjectedFaultCount
// and TokensIssued to zero, empties RequestLog and lowers
// ConcurrencyHighWater to the requests in flight now. It does not touch
// pending faults, fault rules or the service protection windows (see
// ResetLimits).
func (s *Server) ResetCounters() {
	s.cmu.Lock()
	s.counts = map[string]int{}
	s.writes = 0
	s.injected = 0
	s.tokensIssued = map[string]int{}
	s.cmu.Unlock()
	s.lmu.Lock()
	s.highWater = s.inFlight
	s.reqLog = requestLog{}
	s.lmu.Unlock()
}

// now is the (UTC) time API writes carry.
func (s *Server) now() time.Time { return s.clock().UTC() }

// newUUID returns a random (version 4) id. Caller holds s.mu.
func (s *Server) newUUID() uuid.UUID {
	var id uuid.UUID
	_, _ = s.idRand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// nextVersion returns a new row version number; like Dataverse's, versions
// are unique across the environment and only grow. Caller holds s.mu.
func (s *Server) nextVersion() int64 {
	s.versionSeq++
	return s.versionSeq
}
