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
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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
	// AcceptMetadataWritesDuringPublish lets a table or column PUT through
	// while a publish runs (it is saved and stays unpublished). Default
	// false: the PUT is refused with the CustomizationLockException, as
	// while an import runs — Dataverse has one customization lock for
	// imports, publishes and metadata changes (a publish is refused while an
	// [EntityCustomization] runs, observed); whether a PUT is refused during
	// a publish is not documented, so clients must work either way.
	AcceptMetadataWritesDuringPublish bool
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
	// GraphRecordCountLimit is an audit log query's recordCountLimit (v1.0
	// reports it): a query that matches more records succeeds with
	// isRecordCountLimitExceeded true and serves only that many. Default
	// 1,000,000, the per-query allocation Microsoft quotes as a baseline.
	GraphRecordCountLimit int
	// GraphRecordsNewestFirst serves a query's records newest first (and,
	// past the record count limit, keeps the newest). Default false: oldest
	// first. Microsoft documents no order, so clients must not rely on one.
	GraphRecordsNewestFirst bool
	// ExtraCustomTables adds that many generated unmanaged custom tables
	// (new_bench0001, new_bench0002, …), each with ten auditable columns,
	// to the catalogue, for benchmarks over hundreds of tables. Default 0.
	ExtraCustomTables int
	// LargeCatalogue adds the catalogue of a real organization with several
	// Dynamics 365 apps: 1,000 managed tables (msdyn_…) holding more than
	// 80,000 columns, with two-language labels and type-specific
	// properties (catalogue.Large), for benchmarks of what metadata reads
	// cost at that scale. Default false: the 74-table catalogue.
	LargeCatalogue bool
	// NullRetention starts the organization row with auditretentionperiodv2
	// null, as environments where nobody ever set a retention report it.
	NullRetention bool
	// AnnotatedAuditValues changes how RetrieveAuditDetails and
	// RetrieveRecordChangeHistory write old and new values: decimals without
	// trailing zeros (88800 for money stored as 88800.0000) and each value
	// preceded by its "@OData.Community.Display.V1.FormattedValue". Default
	// false: values as stored, no annotations. Microsoft's example shows
	// neither form's details, so clients must read both.
	AnnotatedAuditValues bool
	// NoSettingsAuditRows makes organization and table/column audit
	// setting changes write no audit rows. Default false: they write the
	// rows of actions 102–113 the emulator chose (audit.go). Microsoft
	// documents the actions, not which rows a change writes, so clients
	// must not depend on them.
	NoSettingsAuditRows bool
	// MaxRetentionDays is the largest auditretentionperiodv2 a PATCH
	// accepts. Default 365000 ("Configure auditing"). The admin center's
	// maximum is 24855 ("Manage Dataverse auditing"); whether the Web API
	// enforces it is not documented, so set 24855 to model a service that does.
	MaxRetentionDays int
	// PlainMetadataGetServesSaved makes a plain GET of EntityDefinitions
	// (and its Attributes) return the saved definitions, unpublished
	// changes included. Default false: it returns the published
	// definitions. Documented: "Publish customizations" (Retrieving
	// unpublished metadata) names the RetrieveAsIfPublished parameter and
	// RetrieveUnpublished as the ways to read unpublished definitions, and
	// "Retrieve published metadata" says retrieving metadata gets only
	// published customizations by default. The provider reads the published
	// view this way; the option is for tests of the emulator's cache window.
	PlainMetadataGetServesSaved bool
	// FunctionAttributeItemsUntyped leaves "@odata.type" off the column
	// items of RetrieveEntity / RetrieveAllEntities answers (each item
	// still has AttributeType and AttributeTypeName). Default false: every
	// item names its Complex<Type>AttributeMetadata, as OData does for a
	// derived type; no capture of the real answer confirms it, so clients
	// must work either way.
	FunctionAttributeItemsUntyped bool
	// MetadataCacheWindow is how long after a table or column PUT a read
	// of that table's definitions without the header Consistency: Strong
	// returns the definition as it was before the PUT, as Dataverse's
	// metadata cache does (about 30 s). Zero means 30 s; a negative value
	// turns the cache off. It runs on TimeSource.
	MetadataCacheWindow time.Duration
	// MetadataReadCost holds every metadata read for a time per table and
	// per column definition it returns (EntityDefinitions GETs,
	// RetrieveEntity, RetrieveAllEntities), on TimeSource. Default zero:
	// no cost. Microsoft publishes no figures; benchmarks set it so that a
	// whole-catalogue read of a large organization takes seconds.
	MetadataReadCost MetadataReadCost

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

	// AuditDeletionJobDelay is how long a BulkDelete job takes: waiting for
	// resources for the first half, in progress for the second, then
	// completed. Zero means the default, 300 ms; a negative value means jobs
	// complete at once. Real jobs delete about 4 million audit rows an hour
	// ("Manage Dataverse auditing").
	AuditDeletionJobDelay time.Duration

	// LoginPort, EnvironmentPort and GraphPort are the loopback ports of
	// the three listeners (login, Dataverse, Graph). Zero means a random
	// free port, which is what parallel tests want.
	LoginPort, EnvironmentPort, GraphPort int
	// FederatedIssuer is the issuer (iss) of the emulator's federated
	// tokens (IssueFederatedToken, GitHubActionsOIDC) and the issuer its
	// federated identity credentials trust, e.g.
	// "https://token.actions.githubusercontent.com" to mirror a real
	// credential. The tokens are still signed by the emulator's key.
	// Default: FederatedIssuer() on the login listener.
	FederatedIssuer string
}

const (
	defaultPublishBase     = 50 * time.Millisecond
	defaultPublishPerTable = 2 * time.Millisecond
	defaultGraphQueryDelay = 300 * time.Millisecond
	defaultGraphPageSize   = 1000
	// defaultGraphRecordCountLimit: "Records generated by one query: at
	// least 1,000,000" (Graph throttling limits, security audit log query).
	defaultGraphRecordCountLimit = 1_000_000
)

// optionOrDefault reads a numeric Option: zero means the default, a negative
// value means none (zero).
func optionOrDefault[T time.Duration | int](v, def T) T {
	if v == 0 {
		return def
	}
	return max(v, 0)
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
// host, one for the Dataverse environment and one for Microsoft Graph. It
// is a façade: the emulated state lives in its parts (see parts.go for the
// parts and their lock order), and its exported methods delegate to them.
type Server struct {
	*shared
	tokenLifetime  time.Duration
	advertisedLife time.Duration // expires_in / expires_on
	onRequest      func(RequestInfo)

	ca     *certAuthority
	caDir  string
	caFile string
	pool   *x509.CertPool
	client *http.Client

	loginSrv *http.Server
	envSrv   *http.Server
	graphSrv *http.Server

	tokenKey     *signingKey
	federatedKey *signingKey

	businessUnitID string
	controlKey     string
	envHandler     http.Handler // the instrumented Dataverse handler ($batch parts run through it)

	federatedIssuer string // see Options.FederatedIssuer

	org      *orgPart
	meta     *metadataPart
	publish  *publishPart
	graph    *graphPart
	sim      *simulation
	counters *requestCounters
	faults   *faultInjector
	limits   *serviceLimits

	deletions *auditDeletions // BulkDelete jobs (audit_delete.go)

	closeOnce sync.Once
}

// Start generates keys and certificates and starts the three listeners on
// 127.0.0.1 with random ports.
func Start(opts Options) (*Server, error) {
	sh := &shared{
		tenantID: opts.TenantID,
		entra:    newEntraDirectory(),
		audits:   &auditStore{},
		ids:      newIDSource(),
		clock:    opts.Clock,
		timers:   opts.TimeSource,
		closed:   make(chan struct{}),

		auditValues:    auditValueStyle(opts.AnnotatedAuditValues),
		noSettingsRows: opts.NoSettingsAuditRows,
	}
	if sh.timers == nil {
		sh.timers = realClock{}
	}
	if sh.clock == nil {
		sh.clock = sh.timers.Now
	}
	if sh.tenantID == "" {
		sh.tenantID = uuid.NewString()
	}
	meta := newMetadataPart(sh, catalogueShape{extraCustomTables: opts.ExtraCustomTables, large: opts.LargeCatalogue})
	meta.plainGetServesSaved = opts.PlainMetadataGetServesSaved
	meta.functionItemsUntyped = opts.FunctionAttributeItemsUntyped
	meta.cacheWindow = optionOrDefault(opts.MetadataCacheWindow, defaultMetadataCacheWindow)
	meta.readCost = opts.MetadataReadCost
	s := &Server{
		shared:         sh,
		tokenLifetime:  opts.TokenLifetime,
		onRequest:      opts.OnRequest,
		counters:       newRequestCounters(),
		businessUnitID: uuid.NewString(),
		meta:           meta,
		publish:        newPublishPart(sh, meta, opts),
		controlKey:     opts.ControlKey,
		graph:          newGraphPart(sh, opts),
		deletions:      newAuditDeletions(sh, opts),
		faults:         newFaultInjector(),
		limits:         newServiceLimits(opts),
	}
	meta.customizationLock = s.publish.metadataWriteRefusal
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

	loginLn, err := listenLoopback(opts.LoginPort)
	if err != nil {
		_ = os.RemoveAll(s.caDir)
		return nil, err
	}
	envLn, err := listenLoopback(opts.EnvironmentPort)
	if err != nil {
		_ = loginLn.Close()
		_ = os.RemoveAll(s.caDir)
		return nil, err
	}
	graphLn, err := listenLoopback(opts.GraphPort)
	if err != nil {
		_ = loginLn.Close()
		_ = envLn.Close()
		_ = os.RemoveAll(s.caDir)
		return nil, err
	}
	s.authorityHost = fmt.Sprintf("https://%s/", loginLn.Addr().String())
	s.environment = fmt.Sprintf("https://%s", envLn.Addr().String())
	s.graphURL = fmt.Sprintf("https://%s", graphLn.Addr().String())
	s.federatedIssuer = opts.FederatedIssuer
	if s.federatedIssuer == "" {
		s.federatedIssuer = s.authorityHost + "federated"
	}
	s.entra.audiences[s.environment] = true
	s.entra.audiences[s.graphURL] = true

	s.entra.admin = s.entra.newPrincipal("Emulator Administrator", clientConfig{})
	s.org = newOrgPart(sh, opts)
	s.sim = newSimulation(sh, s.meta, s.org, s.graph)

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

// listenLoopback listens on 127.0.0.1:port (port 0: a free one).
func listenLoopback(port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1 port %d: %w", port, err)
	}
	return ln, nil
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
func (s *Server) OrganizationID() string { return s.org.row.id }

// BusinessUnitID is the root business unit every user belongs to.
func (s *Server) BusinessUnitID() string { return s.businessUnitID }
