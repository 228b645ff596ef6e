// Command dynamics365-emulator runs the Dataverse + Entra login emulator as a
// standalone HTTPS server for `make demo` and for users who test their audit
// baselines offline. It registers one client-secret application, prints the
// environment variables the provider reads as shell export lines, logs one
// line per request to stderr and runs until SIGINT or SIGTERM.
//
// -publish-base and -publish-per-table set how long PublishXml and
// PublishAllXml take (base + tables·per-table; 0 for no wait).
// -seed-audits N writes N rows of audit history (the last 30 days) at start.
//
// The emulator also serves Microsoft Graph's Purview audit log query API
// (DYNAMICS365_GRAPH_URL; the registered application holds
// AuditLogsQuery-CRM.Read.All). -graph-query-delay sets how long a query
// takes to succeed, -graph-page-size the records per page.
//
// Service protection limits per user: -max-concurrent-per-user (52),
// -requests-per-window (6000) over -limit-window (5m); 0 means no limit.
// -token-lifetime sets how long access tokens are valid. -null-retention
// starts the organization with auditretentionperiodv2 null (never set), and
// -max-retention-days lowers the largest retention a PATCH accepts (365000). For resilience
// drills, -fault-rate F fails that share of the Dataverse and Graph
// requests (429, 500, 502, 503, 504 in turn, Retry-After 1 s) from a
// generator seeded with -fault-seed, and -latency adds a delay to each.
//
// The server also enables the emulator's test-only control endpoint
// (POST /_emulator/simulate, never a Dataverse route) with a random key,
// printed as DYNAMICS365_EMULATOR_CONTROL_KEY. The sub-command
//
//	dynamics365-emulator simulate -env-file PATH -actions N [-seed S]
//
// reads that key, the environment URL and the CA file from the env file and
// asks the running emulator to simulate N actions (creates, updates,
// deletes, sign-ins, reads, exports to Excel), then prints the summary.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
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
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		log.Fatal(err)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "simulate" {
		return runSimulate(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("dynamics365-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "also write the export lines to this file (atomically, once the server is up)")
	tenantID := fs.String("tenant-id", "", "tenant id (default: random GUID)")
	clientID := fs.String("client-id", demoClientID, "client id of the registered application")
	clientSecret := fs.String("client-secret", "", "client secret of the registered application (default: random)")
	publishBase := fs.Duration("publish-base", 50*time.Millisecond, "time every PublishXml / PublishAllXml takes (real environments: seconds to minutes)")
	publishPerTable := fs.Duration("publish-per-table", 2*time.Millisecond, "additional publish time per table published")
	seedAudits := fs.Int("seed-audits", 0, "write this many rows of audit history (creates, updates, deletes over the last 30 days) at start")
	graphQueryDelay := fs.Duration("graph-query-delay", 300*time.Millisecond, "time a Graph audit log query takes to succeed (notStarted, then running, for half each; real queries: minutes)")
	graphPageSize := fs.Int("graph-page-size", 1000, "records per page of a Graph audit log query (the real size is not documented)")
	maxConcurrent := fs.Int("max-concurrent-per-user", 52, "service protection limit: concurrent Dataverse requests per user (0: no limit)")
	requestsPerWindow := fs.Int("requests-per-window", 6000, "service protection limit: Dataverse requests per user in -limit-window (0: no limit)")
	limitWindow := fs.Duration("limit-window", 5*time.Minute, "service protection sliding window")
	tokenLifetime := fs.Duration("token-lifetime", time.Hour, "lifetime of issued access tokens")
	faultRate := fs.Float64("fault-rate", 0, "share (0..1) of Dataverse and Graph requests answered with an injected 429/500/502/503/504")
	faultSeed := fs.Int64("fault-seed", 1, "seed of the -fault-rate generator")
	latency := fs.Duration("latency", 0, "delay added to every Dataverse and Graph request")
	nullRetention := fs.Bool("null-retention", false, "start with the organization's auditretentionperiodv2 null, as in environments where nobody ever set it")
	maxRetention := fs.Int("max-retention-days", 365000, "largest auditretentionperiodv2 a PATCH accepts (the admin center's maximum is 24855)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *clientSecret == "" {
		*clientSecret = randomToken()
	}

	if *seedAudits < 0 {
		return fmt.Errorf("-seed-audits must not be negative")
	}
	if *graphPageSize < 1 {
		return fmt.Errorf("-graph-page-size must be at least 1")
	}
	if *graphQueryDelay < 0 {
		return fmt.Errorf("-graph-query-delay must not be negative")
	}
	if *maxConcurrent < 0 || *requestsPerWindow < 0 {
		return fmt.Errorf("-max-concurrent-per-user and -requests-per-window must not be negative")
	}
	if *limitWindow <= 0 || *tokenLifetime < 2*time.Second {
		return fmt.Errorf("-limit-window must be positive and -token-lifetime at least 2s")
	}
	if *maxRetention < 1 {
		return fmt.Errorf("-max-retention-days must be at least 1")
	}
	if *faultRate < 0 || *faultRate > 1 || *latency < 0 {
		return fmt.Errorf("-fault-rate must be between 0 and 1 and -latency not negative")
	}
	controlKey := randomToken()

	logger := log.New(stderr, "dynamics365-emulator: ", log.LstdFlags|log.Lmicroseconds)
	srv, err := emulator.Start(emulator.Options{
		TenantID:                *tenantID,
		ControlKey:              controlKey,
		PublishBaseDuration:     nonZero(*publishBase),
		PublishPerTableDuration: nonZero(*publishPerTable),
		GraphQueryDelay:         nonZero(*graphQueryDelay),
		GraphPageSize:           *graphPageSize,
		MaxConcurrentPerUser:    noLimit(*maxConcurrent),
		RequestsPerWindow:       noLimit(*requestsPerWindow),
		LimitWindow:             *limitWindow,
		TokenLifetime:           *tokenLifetime,
		NullRetention:           *nullRetention,
		MaxRetentionDays:        *maxRetention,
		OnRequest: func(ri emulator.RequestInfo) {
			// Path only: never headers, query strings or bodies.
			logger.Printf("%s %s %s %d %s", ri.Listener, ri.Method, ri.Path, ri.Status, ri.Duration.Round(100*time.Microsecond))
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.AddSecretClient(*clientID, *clientSecret)
	if *faultRate > 0 || *latency > 0 {
		srv.SetFaultRules(*faultSeed, emulator.FaultRule{
			Fraction:   *faultRate,
			Statuses:   []int{429, 500, 502, 503, 504},
			RetryAfter: time.Second,
			Latency:    *latency,
		})
	}
	if *seedAudits > 0 {
		start := time.Now()
		now := time.Now().UTC()
		n := srv.SeedAuditHistory(*seedAudits, now.Add(-30*24*time.Hour), now, 1)
		logger.Printf("seeded %d audit rows in %s", n, time.Since(start).Round(time.Millisecond))
	}

	exports := exportLines(srv, *clientID, *clientSecret, controlKey)
	if *envFile != "" {
		if err := writeFileAtomic(*envFile, []byte(exports)); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(stdout, exports); err != nil {
		return err
	}
	logger.Printf("ready: environment %s, authority %s, graph %s; stop with Ctrl-C", srv.EnvironmentURL(), srv.AuthorityHost(), srv.GraphURL())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	s := <-sig
	signal.Stop(sig)
	logger.Printf("received %s, shutting down", s)
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
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func exportLines(srv *emulator.Server, clientID, secret, controlKey string) string {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"DYNAMICS365_ENVIRONMENT_URL", srv.EnvironmentURL()},
		{"DYNAMICS365_GRAPH_URL", srv.GraphURL()},
		{"AZURE_AUTHORITY_HOST", srv.AuthorityHost()},
		{"AZURE_TENANT_ID", srv.TenantID()},
		{"AZURE_CLIENT_ID", clientID},
		{"AZURE_CLIENT_SECRET", secret},
		{"DYNAMICS365_CA_CERTIFICATE_FILE", srv.CAFile()},
		{controlKeyVar, controlKey},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return b.String()
}

// shellQuote single-quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeFileAtomic writes data to a temporary file beside path and renames it,
// so a reader polling for path never sees a partial file. The file holds a
// secret: mode 0600.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
