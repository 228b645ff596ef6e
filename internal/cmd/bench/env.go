package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/provider"
)

const providerAddress = "registry.terraform.io/d365-audit/dynamics365"

// env is one emulated environment with a registered application.
type env struct{ *acctest.Env }

// newEnv starts an emulator with the scaled publish durations (unless opts
// sets them) and registers a client with all privileges. Latency rules are
// set separately (setLatency) so that untimed setup can run without them.
func (b *bench) newEnv(opts emulator.Options) (*env, error) {
	if opts.PublishBaseDuration == 0 {
		opts.PublishBaseDuration = b.d(publishBase)
	}
	if opts.PublishPerTableDuration == 0 {
		opts.PublishPerTableDuration = b.d(publishPerTable)
	}
	e, err := acctest.StartEnv(opts)
	if err != nil {
		return nil, err
	}
	return &env{e}, nil
}

// setLatency adds the scaled request latency to every Dataverse and Graph
// request, and more to metadata reads (150 ms in total at scale 1): plain
// EntityDefinitions GETs and the RetrieveEntity / RetrieveAllEntities
// functions the provider reads audit settings with. A $batch is one request
// for the fault rules (its parts add only the large catalogue's per-table
// and per-column cost).
func (b *bench) setLatency(e *env) {
	extra := b.d(metadataLatency - requestLatency)
	e.Emulator.SetFaultRules(1,
		emulator.FaultRule{Route: "*", Latency: b.d(requestLatency)},
		emulator.FaultRule{Route: "GET EntityDefinitions", Latency: extra},
		emulator.FaultRule{Route: "GET RetrieveEntity", Latency: extra},
		emulator.FaultRule{Route: "GET RetrieveAllEntities", Latency: extra},
	)
}

// requests is the number of top-level requests the Dataverse and Graph
// listeners received since the last ResetCounters (a $batch counts once).
func (e *env) requests() int {
	n := 0
	for _, r := range e.Emulator.RequestLog() {
		if r.Listener != emulator.ListenerLogin {
			n++
		}
	}
	return n
}

// bytes is the response body bytes the Dataverse and Graph listeners sent
// since the last ResetCounters: what the client read.
func (e *env) bytes() int64 {
	return e.Emulator.ListenerResponseBytes(emulator.ListenerEnvironment) + e.Emulator.ListenerResponseBytes(emulator.ListenerGraph)
}

// printRoutes writes to stderr the top-level requests since the last
// ResetCounters by route, in the order first seen (BENCH_ROUTES=1: to see
// where a scenario's requests go).
func (e *env) printRoutes(step string, side mode) {
	counts := map[string]int{}
	var order []string
	for _, r := range e.Emulator.RequestLog() {
		key := r.Listener + " " + r.Method + " " + r.Route
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	for _, k := range order {
		fmt.Fprintf(os.Stderr, "  %s (%s): %s x%d\n", step, side, k, counts[k])
	}
	if os.Getenv("BENCH_ROUTES") != "timeline" {
		return
	}
	log := e.Emulator.RequestLog()
	if len(log) == 0 {
		return
	}
	for _, r := range log {
		fmt.Fprintf(os.Stderr, "    %s %8.1fms %6.1fms %s %s\n", side, float64(r.Start.Sub(log[0].Start).Microseconds())/1000,
			float64(r.End.Sub(r.Start).Microseconds())/1000, r.Method, r.Route)
	}
}

// metadataRoutes are the routes that return table and column definitions.
var metadataRoutes = map[string]bool{"EntityDefinitions": true, "RetrieveEntity": true, "RetrieveAllEntities": true, "RetrieveMetadataChanges": true}

// metadataRequests is the number of top-level requests since the last
// ResetCounters that read metadata: metadata routes and $batch requests
// (a $batch counts once, whatever it holds).
func (e *env) metadataRequests() int {
	n := 0
	for _, r := range e.Emulator.RequestLog() {
		if r.Listener == emulator.ListenerEnvironment && ((r.Method == http.MethodGet && metadataRoutes[r.Route]) || r.Route == "$batch") {
			n++
		}
	}
	return n
}

// staticToken asks the emulator for tokens directly (client-level scenarios).
type staticToken struct {
	srv      *emulator.Server
	clientID string
	resource string
}

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := s.srv.IssueAccessToken(s.clientID, s.resource, time.Hour)
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, err
}

// servedProvider is the provider served in this process in plugin debug
// mode; terraform attaches to it through TF_REATTACH_PROVIDERS.
type servedProvider struct {
	reattach tfexec.ReattachInfo
	cancel   context.CancelFunc
	closed   chan struct{}
}

// serveProvider starts a fresh provider instance (empty caches), naive or
// as built.
func serveProvider(side mode) (*servedProvider, error) {
	var opts []provider.Option
	if side == naive {
		opts = append(opts, provider.WithNaiveMode())
	}
	factory := providerserver.NewProtocol6(provider.New("bench", opts...)())
	ctx, cancel := context.WithCancel(context.Background())
	reattachCh := make(chan *plugin.ReattachConfig)
	closeCh := make(chan struct{})
	errCh := make(chan error, 1)
	go func() {
		errCh <- tf6server.Serve(providerAddress, factory,
			tf6server.WithDebug(ctx, reattachCh, closeCh),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			tf6server.WithoutLogStderrOverride(),
		)
	}()
	select {
	case cfg := <-reattachCh:
		if cfg == nil {
			cancel()
			return nil, errors.New("serve provider: nil reattach configuration")
		}
		return &servedProvider{
			reattach: tfexec.ReattachInfo{providerAddress: tfexec.ReattachConfig{
				Protocol:        string(cfg.Protocol),
				ProtocolVersion: cfg.ProtocolVersion,
				Pid:             cfg.Pid,
				Test:            cfg.Test,
				Addr:            tfexec.ReattachConfigAddr{Network: cfg.Addr.Network(), String: cfg.Addr.String()},
			}},
			cancel: cancel,
			closed: closeCh,
		}, nil
	case err := <-errCh:
		cancel()
		return nil, fmt.Errorf("serve provider: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		return nil, errors.New("serve provider: no reattach configuration after 10 s")
	}
}

func (p *servedProvider) stop() {
	p.cancel()
	select {
	case <-p.closed:
	case <-time.After(10 * time.Second):
	}
}

// workdir is a Terraform configuration directory with an empty CLI
// configuration (nothing from the developer's ~/.terraformrc), never
// initialised: reattached providers need no installation.
type workdir struct {
	dir    string
	tf     *tfexec.Terraform
	stderr bytes.Buffer
}

func (b *bench) newWorkdir(config string) (*workdir, error) {
	if b.terraform == "" {
		return nil, errors.New("no terraform binary: set TF_ACC_TERRAFORM_PATH or put terraform on PATH")
	}
	dir, err := os.MkdirTemp("", "d365-bench-")
	if err != nil {
		return nil, err
	}
	rc := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		return nil, err
	}
	work := filepath.Join(dir, "config")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	w := &workdir{dir: dir}
	if err := w.write(config); err != nil {
		return nil, err
	}
	tf, err := tfexec.NewTerraform(work, b.terraform)
	if err != nil {
		return nil, err
	}
	if err := tf.SetEnv(map[string]string{"TF_CLI_CONFIG_FILE": rc, "CHECKPOINT_DISABLE": "1"}); err != nil {
		return nil, err
	}
	tf.SetStderr(&w.stderr)
	w.tf = tf
	return w, nil
}

func (w *workdir) write(config string) error {
	return os.WriteFile(filepath.Join(w.dir, "config", "main.tf"), []byte(acctest.RootModule(config)), 0o600)
}

func (w *workdir) remove() { _ = os.RemoveAll(w.dir) }

// errorDiagnostics counts the "Error:" diagnostics terraform printed since
// the last reset, and those that mention the customization lock.
func (w *workdir) errorDiagnostics() (all, lock int) {
	for _, block := range strings.Split(w.stderr.String(), "Error: ")[1:] {
		all++
		l := strings.ToLower(block)
		if strings.Contains(l, "lock") || strings.Contains(l, "another publish") || strings.Contains(l, "previous [") {
			lock++
		}
	}
	return all, lock
}

// apply runs terraform apply against a fresh provider process.
func (w *workdir) apply(ctx context.Context, side mode) (time.Duration, error) {
	p, err := serveProvider(side)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	w.stderr.Reset()
	settleHeap()
	start := time.Now()
	err = w.tf.Apply(ctx, tfexec.Reattach(p.reattach))
	return time.Since(start), err
}

// plan runs terraform plan against a fresh provider process.
func (w *workdir) plan(ctx context.Context, side mode) (time.Duration, bool, error) {
	p, err := serveProvider(side)
	if err != nil {
		return 0, false, err
	}
	defer p.stop()
	w.stderr.Reset()
	settleHeap()
	start := time.Now()
	changes, err := w.tf.Plan(ctx, tfexec.Reattach(p.reattach))
	return time.Since(start), changes, err
}

// settleHeap collects garbage before a timed command: the provider and the
// emulators run in this process, so without it a side would pay for the
// heap an earlier scenario (a large catalogue) left behind.
func settleHeap() {
	runtime.GC()
	debug.FreeOSMemory()
}

// benchTables are the generated custom tables new_bench0001 … (emulator
// Options.ExtraCustomTables): changeable, auditing off by default.
func benchTables(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("new_bench%04d", i+1)
	}
	return out
}
