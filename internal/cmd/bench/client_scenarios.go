package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/graph"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

var seedFrom = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func (e *env) dataverseClient() (*dataverse.Client, error) {
	return dataverse.New(dataverse.Config{EnvironmentURL: e.Emulator.EnvironmentURL(), Settings: msapi.Settings{
		Credential: staticToken{srv: e.Emulator, clientID: e.ClientID, resource: e.Emulator.EnvironmentURL()},
		HTTPClient: e.Emulator.HTTPClient(),
	}})
}

// changesRun is one side of changes_10k.
type changesRun struct {
	requests, pages, batches, singleGets int
	bytes                                int64 // response bodies read
	strong                               int   // requests with Consistency: Strong
	rows, withChanges                    int
	seconds                              time.Duration
}

// runChanges10k: 10,000 audit rows streamed and their changes fetched:
// RetrieveAuditDetails in $batch requests (optimized) or one GET per row
// (naive, BatchOptions{Naive: true}).
func runChanges10k(ctx context.Context, b *bench) error {
	one := func(side mode) (changesRun, error) {
		var r changesRun
		// The request-count window (6000 per 5 minutes) would throttle the
		// naive side for minutes; the bench measures requests, not the wait.
		e, err := b.newEnv(emulator.Options{RequestsPerWindow: -1, ExecutionTimePerWindow: -1})
		if err != nil {
			return r, err
		}
		defer e.Close()
		e.Emulator.SeedAuditHistory(10000, seedFrom, seedFrom.AddDate(0, 1, 0), 43)
		c, err := e.dataverseClient()
		if err != nil {
			return r, err
		}
		b.setLatency(e)
		e.Emulator.ResetCounters()
		start := time.Now()
		var ids []string
		if _, _, err := c.StreamAudits(ctx, dataverse.AuditQuery{Limit: 10000}, func(a dataverse.AuditRecord) error {
			ids = append(ids, a.ID)
			return nil
		}); err != nil {
			return r, err
		}
		changes, err := c.RetrieveAuditDetails(ctx, ids, dataverse.BatchOptions{Naive: side == naive})
		if err != nil {
			return r, err
		}
		r.seconds = time.Since(start)
		r.rows = len(ids)
		for _, id := range ids {
			if len(changes[id]) > 0 {
				r.withChanges++
			}
		}
		r.requests = e.requests()
		r.bytes = e.bytes()
		r.strong = e.Emulator.StrongConsistencyCount()
		r.pages = e.Emulator.RequestCount("GET audits")
		r.batches = e.Emulator.RequestCount("POST $batch")
		if side == naive {
			r.singleGets = e.Emulator.RequestCount("GET RetrieveAuditDetails")
		}
		if r.rows != 10000 {
			return r, fmt.Errorf("streamed %d rows, want 10000", r.rows)
		}
		return r, nil
	}
	opt, nai, err := bothModes(one)
	if err != nil {
		return err
	}
	fmt.Printf("bench changes_10k: optimized requests=%d bytes=%d strong=%d seconds=%s | naive requests=%d bytes=%d strong=%d seconds=%s | speedup=%s rows=%d with_changes=%d\n",
		opt.requests, opt.bytes, opt.strong, secs(opt.seconds), nai.requests, nai.bytes, nai.strong, secs(nai.seconds), speedup(opt.seconds, nai.seconds), opt.rows, opt.withChanges)
	fmt.Printf("  optimized: %d page requests + %d $batch requests; naive: %d page requests + %d RetrieveAuditDetails GETs\n",
		opt.pages, opt.batches, nai.pages, nai.singleGets)
	fmt.Printf("  targets: optimized requests <= 12 (got %d), naive one RetrieveAuditDetails per row (got %d for %d rows)\n",
		opt.requests, nai.singleGets, nai.rows)
	return nil
}

// The audit_100k client runs in a child process (this binary re-executed),
// so that its heap is the client's alone, not the emulator's.
const childStreamArg = "-child-stream-audits"

type streamResult struct {
	Rows         int     `json:"rows"`
	Pages        int     `json:"pages"`
	Seconds      float64 `json:"seconds"`
	PeakHeapMB   float64 `json:"peak_heap_mb"`
	DecodedMB    float64 `json:"decoded_mb"`
	HeapSamples  int     `json:"heap_samples"`
	BaselineMB   float64 `json:"baseline_mb"`
	ErrorMessage string  `json:"error,omitempty"`
}

// runAudit100k: 100,000 rows streamed at the client level; page requests
// and the client's peak heap against the size of what it decoded.
func runAudit100k(ctx context.Context, b *bench) error {
	e, err := b.newEnv(emulator.Options{})
	if err != nil {
		return err
	}
	defer e.Close()
	e.Emulator.SeedAuditHistory(100000, seedFrom, seedFrom.AddDate(1, 0, 0), 42)
	tok, err := e.Emulator.IssueAccessToken(e.ClientID, e.Emulator.EnvironmentURL(), time.Hour)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b.setLatency(e)
	e.Emulator.ResetCounters()
	cmd := exec.CommandContext(ctx, self, childStreamArg)
	cmd.Env = append(os.Environ(), "BENCH_ENV_URL="+e.Emulator.EnvironmentURL(), "BENCH_CA_FILE="+e.Emulator.CAFile(), "BENCH_TOKEN="+tok)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var res streamResult
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		return fmt.Errorf("child: %v (%v): %s", err, jerr, out)
	}
	if res.ErrorMessage != "" {
		return errors.New(res.ErrorMessage)
	}
	if err != nil {
		return err
	}
	pages := e.Emulator.RequestCount("GET audits")
	ratio := res.PeakHeapMB / res.DecodedMB
	fmt.Printf("bench audit_100k: optimized requests=%d bytes=%d strong=%d seconds=%.2f peak_heap_mb=%.1f decoded_mb=%.1f heap_ratio=%.2f rows=%d | naive n/a\n",
		pages, e.bytes(), e.Emulator.StrongConsistencyCount(), res.Seconds, res.PeakHeapMB, res.DecodedMB, ratio, res.Rows)
	fmt.Printf("  targets: page requests <= 21 (got %d), peak heap <= 2 x decoded (got %.2f x; %d heap samples over a %.1f MB baseline)\n",
		pages, ratio, res.HeapSamples, res.BaselineMB)
	return nil
}

// childStream is the child side of audit_100k: it prints a streamResult.
func childStream() int {
	res := func() (res streamResult) {
		fail := func(err error) streamResult { res.ErrorMessage = err.Error(); return res }
		pem, err := os.ReadFile(os.Getenv("BENCH_CA_FILE"))
		if err != nil {
			return fail(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fail(errors.New("no certificate in the CA file"))
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		c, err := dataverse.New(dataverse.Config{EnvironmentURL: os.Getenv("BENCH_ENV_URL"), Settings: msapi.Settings{
			Credential: fixedToken(os.Getenv("BENCH_TOKEN")),
			HTTPClient: &http.Client{Transport: tr},
		}})
		if err != nil {
			return fail(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		baseline := ms.HeapInuse
		var peak atomic.Uint64
		var samples atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var m runtime.MemStats
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&m)
				samples.Add(1)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		var decoded uint64
		start := time.Now()
		_, pages, err := c.StreamAudits(context.Background(), dataverse.AuditQuery{Limit: 100000}, func(a dataverse.AuditRecord) error {
			res.Rows++
			decoded += uint64(unsafe.Sizeof(a)) + uint64(len(a.ID)+len(a.ActionLabel)+len(a.EntityLogicalName)+
				len(a.RecordID)+len(a.UserID)+len(a.UserName)+len(a.CallingUserID)+len(a.TransactionID))
			return nil
		})
		res.Seconds = time.Since(start).Seconds()
		close(stop)
		<-done
		if err != nil {
			return fail(err)
		}
		res.Pages = pages
		res.HeapSamples = int(samples.Load())
		const mb = 1 << 20
		res.BaselineMB = float64(baseline) / mb
		if p := peak.Load(); p > baseline {
			res.PeakHeapMB = float64(p-baseline) / mb
		}
		res.DecodedMB = float64(decoded) / mb
		return res
	}()
	_ = json.NewEncoder(os.Stdout).Encode(res)
	if res.ErrorMessage != "" {
		return 1
	}
	return 0
}

type fixedToken string

func (f fixedToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(f), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// searchRun is one side of search_50k.
type searchRun struct {
	requests, pageRequests, polls, records int
	bytes                                  int64 // response bodies read
	strong                                 int   // requests with Consistency: Strong
	pageSize                               int
	minGap                                 time.Duration
	backoffOK                              bool
	seconds                                time.Duration
}

// runSearch50k: a Purview audit log query over 50,000 records: create, wait
// (polling with backoff), list every record. Naive reads pages of 100.
func runSearch50k(ctx context.Context, b *bench) error {
	const serverPage = 1000
	one := func(side mode) (searchRun, error) {
		var r searchRun
		e, err := b.newEnv(emulator.Options{GraphQueryDelay: b.d(graphQueryDelay), GraphPageSize: serverPage})
		if err != nil {
			return r, err
		}
		defer e.Close()
		e.Emulator.SeedUnifiedAuditLog(50000, seedFrom, seedFrom.AddDate(0, 1, 0), 44)
		r.pageSize = serverPage
		if side == naive {
			r.pageSize = 100
		}
		cfg := graph.Config{GraphURL: e.Emulator.GraphURL(), Settings: msapi.Settings{
			Credential: staticToken{srv: e.Emulator, clientID: e.ClientID, resource: e.Emulator.GraphURL()},
			HTTPClient: e.Emulator.HTTPClient(),
		}}
		if side == naive {
			cfg.PageSize = 100
		}
		gc, err := graph.New(cfg)
		if err != nil {
			return r, err
		}
		b.setLatency(e)
		e.Emulator.ResetCounters()
		minWait, maxWait := b.d(graphPollMinWait), b.d(graphPollMaxWait)
		var progress []time.Time
		start := time.Now()
		q, err := gc.CreateQuery(ctx, graph.QueryRequest{From: seedFrom, To: seedFrom.AddDate(0, 1, 0)})
		if err != nil {
			return r, err
		}
		if _, err := gc.WaitForQuery(ctx, q.ID, graph.WaitOptions{PollMin: minWait, PollMax: maxWait,
			OnProgress: func(string, int, time.Duration) { progress = append(progress, time.Now()) }}); err != nil {
			return r, err
		}
		_, pages, err := gc.ListRecords(ctx, q.ID, 0, func(graph.Record) error { r.records++; return nil })
		if err != nil {
			return r, err
		}
		r.seconds = time.Since(start)
		r.requests = e.requests()
		r.bytes = e.bytes()
		r.strong = e.Emulator.StrongConsistencyCount()
		r.pageRequests = e.Emulator.RequestCount("GET auditLogRecords")
		_ = pages
		r.polls = len(progress)
		// The wait after poll k is at least min(PollMin·1.5^(k-1), PollMax);
		// the gap between polls k and k+1 includes it.
		r.backoffOK = true
		r.minGap = -1
		for k := 1; k < len(progress); k++ {
			gap := progress[k].Sub(progress[k-1])
			bound := time.Duration(math.Min(float64(minWait)*math.Pow(1.5, float64(k-1)), float64(maxWait)))
			if gap < bound {
				r.backoffOK = false
			}
			if r.minGap < 0 || gap < r.minGap {
				r.minGap = gap
			}
		}
		return r, nil
	}
	opt, nai, err := bothModes(one)
	if err != nil {
		return err
	}
	want := func(r searchRun) int { return (r.records + r.pageSize - 1) / r.pageSize }
	fmt.Printf("bench search_50k: optimized requests=%d bytes=%d strong=%d seconds=%s | naive requests=%d bytes=%d strong=%d seconds=%s | speedup=%s records=%d\n",
		opt.requests, opt.bytes, opt.strong, secs(opt.seconds), nai.requests, nai.bytes, nai.strong, secs(nai.seconds), speedup(opt.seconds, nai.seconds), opt.records)
	fmt.Printf("  optimized: page_size=%d page_requests=%d (ceil = %d) polls=%d min_poll_gap=%s backoff_ok=%t; naive: page_size=%d page_requests=%d (ceil = %d) polls=%d backoff_ok=%t\n",
		opt.pageSize, opt.pageRequests, want(opt), opt.polls, opt.minGap.Round(time.Millisecond), opt.backoffOK,
		nai.pageSize, nai.pageRequests, want(nai), nai.polls, nai.backoffOK)
	fmt.Printf("  targets: page requests = ceil(records / page size) (%s), polling no faster than the backoff (%t)\n",
		strings.TrimSpace(fmt.Sprintf("%d = %d", opt.pageRequests, want(opt))), opt.backoffOK && nai.backoffOK)
	return nil
}
