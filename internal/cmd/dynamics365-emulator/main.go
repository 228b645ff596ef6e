// Command dynamics365-emulator runs the Dataverse + Entra login + Microsoft
// Graph emulator as a standalone HTTPS server for `make demo` and for users
// who test their audit baselines offline. It registers one application
// (client secret; optionally a certificate and a federated credential),
// prints the environment variables the provider reads as shell export
// lines, logs one line per request to stderr and runs until SIGINT or
// SIGTERM.
//
// Start and wait: -env-file PATH is removed at start (a file left by a
// killed run would look ready), written atomically once every listener is
// up (after -tfvars-file), and removed again at exit. So a script starts
// the emulator in the background and waits for the env file to exist.
//
// -tfvars-file PATH writes the connection as Terraform variables (the
// names internal/baselinetest and examples/compliance-baseline use,
// prefixed with -tfvars-prefix and "_"). -login-port,
// -environment-port and -graph-port fix the listeners' ports (default:
// free ones). -client-certificate PEM registers a certificate for the
// application; -federated-subject S (with -federated-issuer) a federated
// identity credential, and exports the GitHub Actions OIDC variables that
// make the provider's use_oidc log in with it.
//
// -publish-base and -publish-per-table set how long PublishXml and
// PublishAllXml take (base + tables·per-table; 0 for no wait).
// -seed-audits N writes N rows of audit history (the last 30 days) at start.
// -graph-query-delay sets how long a Purview audit log query takes,
// -graph-page-size the records per page. Service protection limits per
// user: -max-concurrent-per-user (52), -requests-per-window (6000) over
// -limit-window (5m); 0 means no limit. -token-lifetime sets how long
// access tokens are valid. -null-retention starts the organization with
// auditretentionperiodv2 null (never set), and -max-retention-days lowers
// the largest retention a PATCH accepts (365000). -large-catalogue adds a
// large organization's 1,000 tables and 80,000+ columns;
// -metadata-read-cost-per-table and -metadata-read-cost-per-column make a
// metadata read take that long per definition it returns.
//
// Faults for resilience tests: -fault-rate F fails that share of the
// Dataverse and Graph requests, split evenly over -fault-kinds (status:
// 429/500/502/503/504 in turn with Retry-After 1 s; reset: the connection
// is dropped; lost: the request is handled, its change applied, and the
// answer dropped; hang: the request is held for -fault-hang, then
// dropped), drawn from a generator seeded with -fault-seed; -latency adds
// a delay to each request.
//
// The server enables the emulator's test-only control endpoint
// (/_emulator/…, never a Dataverse route) with a random key, written as
// DYNAMICS365_EMULATOR_CONTROL_KEY. The sub-commands
//
//	dynamics365-emulator simulate -env-file PATH -actions N [-seed S]
//	dynamics365-emulator set -env-file PATH [-publish] org|table NAME|column TABLE.COLUMN name=value…
//
// read that key, the environment URL and the CA file from the env file and
// ask the running emulator to simulate activity, or to change audit
// settings behind Terraform's back (see set.go).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// demoClientID is fixed so that demo configurations can name it.
const demoClientID = "d3650000-0000-4000-8000-00000000de30"

func main() {
	log.SetFlags(0)
	log.SetPrefix("dynamics365-emulator: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// exitCode is 0 for success and for -h (the usage was asked for), 2 for
// other usage errors (the flag package has printed them), 1 otherwise.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	}
	log.Print(err)
	return 1
}

// usageError is a flag the flag package refused and has already reported.
type usageError struct{ error }

// parseFlags parses args, marking refused flags as usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err}
	}
	return err
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "simulate":
			return runSimulate(args[1:], stdout, stderr)
		case "set":
			return runSet(args[1:], stdout, stderr)
		}
	}
	return runServer(ctx, args, stdout, stderr, nil)
}

// serverFlags are the flags of the server (no sub-command).
type serverFlags struct {
	envFile, tfvarsFile, tfvarsPrefix                 string
	tenantID, clientID, clientSecret                  string
	clientCertificate, federatedSubject, federatedIss string
	loginPort, environmentPort, graphPort             int
	publishBase, publishPerTable                      time.Duration
	seedAudits                                        int
	graphQueryDelay                                   time.Duration
	graphPageSize                                     int
	maxConcurrent, requestsPerWindow                  int
	limitWindow, tokenLifetime                        time.Duration
	nullRetention                                     bool
	maxRetention                                      int
	largeCatalogue                                    bool
	readCostPerTable, readCostPerColumn               time.Duration
	faults                                            faultFlags
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.envFile, "env-file", "", "write the export lines to this file: removed at start, written (mode 0600, atomically) once the server is up, removed at exit; wait for it to exist")
	fs.StringVar(&f.tfvarsFile, "tfvars-file", "", "write the connection as Terraform variables to this .tfvars file (before the env file; removed at start and exit)")
	fs.StringVar(&f.tfvarsPrefix, "tfvars-prefix", "", `prefix of the variable names in -tfvars-file, e.g. "tenant_a" for tenant_a_environment_url (default: none)`)
	fs.StringVar(&f.tenantID, "tenant-id", "", "tenant id (default: random GUID)")
	fs.StringVar(&f.clientID, "client-id", demoClientID, "client id of the registered application")
	fs.StringVar(&f.clientSecret, "client-secret", "", "client secret of the registered application (default: random)")
	fs.StringVar(&f.clientCertificate, "client-certificate", "", "PEM file with a certificate (a private key in it is ignored) to register for the application, for client certificate logins")
	fs.StringVar(&f.federatedSubject, "federated-subject", "", "register a federated identity credential with this subject for the application, and export GitHub Actions OIDC variables that yield tokens for it")
	fs.StringVar(&f.federatedIss, "federated-issuer", "", "issuer of the federated credential and of the tokens (default: the emulator's own issuer on the login listener)")
	fs.IntVar(&f.loginPort, "login-port", 0, "port of the login (Entra) listener (default: a free port)")
	fs.IntVar(&f.environmentPort, "environment-port", 0, "port of the Dataverse environment listener (default: a free port)")
	fs.IntVar(&f.graphPort, "graph-port", 0, "port of the Microsoft Graph listener (default: a free port)")
	fs.DurationVar(&f.publishBase, "publish-base", 50*time.Millisecond, "time every PublishXml / PublishAllXml takes (real environments: seconds to minutes)")
	fs.DurationVar(&f.publishPerTable, "publish-per-table", 2*time.Millisecond, "additional publish time per table published")
	fs.IntVar(&f.seedAudits, "seed-audits", 0, "write this many rows of audit history (creates, updates, deletes over the last 30 days) at start")
	fs.DurationVar(&f.graphQueryDelay, "graph-query-delay", 300*time.Millisecond, "time a Graph audit log query takes to succeed (notStarted, then running, for half each; real queries: minutes)")
	fs.IntVar(&f.graphPageSize, "graph-page-size", 1000, "records per page of a Graph audit log query (the real size is not documented)")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-per-user", 52, "service protection limit: concurrent Dataverse requests per user (0: no limit)")
	fs.IntVar(&f.requestsPerWindow, "requests-per-window", 6000, "service protection limit: Dataverse requests per user in -limit-window (0: no limit)")
	fs.DurationVar(&f.limitWindow, "limit-window", 5*time.Minute, "service protection sliding window")
	fs.DurationVar(&f.tokenLifetime, "token-lifetime", time.Hour, "lifetime of issued access tokens")
	fs.BoolVar(&f.nullRetention, "null-retention", false, "start with the organization's auditretentionperiodv2 null, as in environments where nobody ever set it")
	fs.IntVar(&f.maxRetention, "max-retention-days", 365000, "largest auditretentionperiodv2 a PATCH accepts (the admin center's maximum is 24855)")
	fs.BoolVar(&f.largeCatalogue, "large-catalogue", false, "add the catalogue of a large organization: 1,000 managed tables (msdyn_…) with more than 80,000 columns")
	fs.DurationVar(&f.readCostPerTable, "metadata-read-cost-per-table", 0, "server time a metadata read takes per table definition it returns")
	fs.DurationVar(&f.readCostPerColumn, "metadata-read-cost-per-column", 0, "server time a metadata read takes per column definition it returns")
	f.faults.register(fs)
}

func (f *serverFlags) validate() error {
	switch {
	case f.seedAudits < 0:
		return fmt.Errorf("-seed-audits must not be negative")
	case f.graphPageSize < 1:
		return fmt.Errorf("-graph-page-size must be at least 1")
	case f.graphQueryDelay < 0:
		return fmt.Errorf("-graph-query-delay must not be negative")
	case f.maxConcurrent < 0 || f.requestsPerWindow < 0:
		return fmt.Errorf("-max-concurrent-per-user and -requests-per-window must not be negative")
	case f.limitWindow <= 0 || f.tokenLifetime < 2*time.Second:
		return fmt.Errorf("-limit-window must be positive and -token-lifetime at least 2s")
	case f.readCostPerTable < 0 || f.readCostPerColumn < 0:
		return fmt.Errorf("-metadata-read-cost-per-table and -metadata-read-cost-per-column must not be negative")
	case f.maxRetention < 1:
		return fmt.Errorf("-max-retention-days must be at least 1")
	case f.federatedIss != "" && f.federatedSubject == "":
		return fmt.Errorf("-federated-issuer needs -federated-subject")
	}
	for _, p := range []struct {
		name string
		port int
	}{{"-login-port", f.loginPort}, {"-environment-port", f.environmentPort}, {"-graph-port", f.graphPort}} {
		if p.port < 0 || p.port > 65535 {
			return fmt.Errorf("%s must be between 0 (a free port) and 65535", p.name)
		}
	}
	if err := checkTFVarsPrefix(f.tfvarsPrefix); err != nil {
		return err
	}
	return f.faults.validate()
}

// runServer runs the emulator until ctx ends. ready, when set, is called
// with the server once its env file is written (tests use it).
func runServer(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(*emulator.Server)) error {
	fs := flag.NewFlagSet("dynamics365-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serverFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s (sub-commands: simulate, set)", strings.Join(fs.Args(), " "))
	}
	if err := f.validate(); err != nil {
		return err
	}
	if f.clientSecret == "" {
		f.clientSecret = randomToken()
	}
	var cert *certificateFile
	if f.clientCertificate != "" {
		c, err := readCertificate(f.clientCertificate)
		if err != nil {
			return err
		}
		cert = c
	}
	rules, err := f.faults.rules()
	if err != nil {
		return err
	}
	// A file left by an earlier (killed) run must not look like this
	// run's: remove both now, and again at exit.
	outputs := []string{f.envFile, f.tfvarsFile}
	if err := removeFiles(outputs...); err != nil {
		return err
	}
	defer func() { _ = removeFiles(outputs...) }()

	controlKey := randomToken()
	logger := log.New(stderr, "dynamics365-emulator: ", log.LstdFlags|log.Lmicroseconds)
	srv, err := emulator.Start(emulator.Options{
		TenantID:                f.tenantID,
		ControlKey:              controlKey,
		PublishBaseDuration:     nonZero(f.publishBase),
		PublishPerTableDuration: nonZero(f.publishPerTable),
		GraphQueryDelay:         nonZero(f.graphQueryDelay),
		GraphPageSize:           f.graphPageSize,
		MaxConcurrentPerUser:    noLimit(f.maxConcurrent),
		RequestsPerWindow:       noLimit(f.requestsPerWindow),
		LimitWindow:             f.limitWindow,
		TokenLifetime:           f.tokenLifetime,
		NullRetention:           f.nullRetention,
		MaxRetentionDays:        f.maxRetention,
		LoginPort:               f.loginPort,
		EnvironmentPort:         f.environmentPort,
		GraphPort:               f.graphPort,
		FederatedIssuer:         f.federatedIss,
		LargeCatalogue:          f.largeCatalogue,
		MetadataReadCost:        emulator.MetadataReadCost{PerTable: f.readCostPerTable, PerColumn: f.readCostPerColumn},
		OnRequest: func(ri emulator.RequestInfo) {
			// Path only: never headers, query strings or bodies.
			logger.Printf("%s %s %s %d %s", ri.Listener, ri.Method, ri.Path, ri.Status, ri.Duration.Round(100*time.Microsecond))
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.AddSecretClient(f.clientID, f.clientSecret)
	conn := connection{srv: srv, clientID: f.clientID, clientSecret: f.clientSecret, controlKey: controlKey}
	if cert != nil {
		srv.AddCertificateClient(f.clientID, cert.cert)
		logger.Printf("registered certificate %s (SHA-1 thumbprint %s) for %s", cert.subject, cert.thumbprint, f.clientID)
	}
	if f.federatedSubject != "" {
		srv.AddFederatedClient(f.clientID, f.federatedSubject)
		conn.oidcRequestURL, conn.oidcRequestToken = srv.GitHubActionsOIDC(f.federatedSubject)
		logger.Printf("registered federated credential (issuer %s, subject %s, audience api://AzureADTokenExchange) for %s", srv.FederatedIssuer(), f.federatedSubject, f.clientID)
	}
	if len(rules) > 0 {
		srv.SetFaultRules(f.faults.seed, rules...)
	}
	if f.seedAudits > 0 {
		start := time.Now()
		now := time.Now().UTC()
		n := srv.SeedAuditHistory(f.seedAudits, now.Add(-30*24*time.Hour), now, 1)
		logger.Printf("seeded %d audit rows in %s", n, time.Since(start).Round(time.Millisecond))
	}

	exports := conn.exportLines()
	if f.tfvarsFile != "" {
		if err := writeFileAtomic(f.tfvarsFile, []byte(conn.tfvars(f.tfvarsPrefix))); err != nil {
			return err
		}
	}
	if f.envFile != "" {
		if err := writeFileAtomic(f.envFile, []byte(exports)); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(stdout, exports); err != nil {
		return err
	}
	logger.Printf("ready: environment %s, authority %s, graph %s; stop with Ctrl-C", srv.EnvironmentURL(), srv.AuthorityHost(), srv.GraphURL())
	if ready != nil {
		ready(srv)
	}

	<-ctx.Done()
	logger.Printf("shutting down")
	return nil
}

// nonZero maps a flag's 0 ("no wait") to the Options' "none" (negative),
// since zero Options mean the defaults.
func nonZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// noLimit maps a flag's 0 ("no limit") to the Options' negative, since
// zero Options mean the defaults.
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func randomToken() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// removeFiles removes the named files ("" skipped); a missing file is fine.
func removeFiles(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", p, err)
		}
	}
	return nil
}
