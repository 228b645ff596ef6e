// Command bench compares the provider as built with its naive mode
// (provider.WithNaiveMode) against emulated Dataverse environments with
// realistic, scaled latency. Run it with `make bench`.
//
// Each scenario runs twice, optimized and naive, each against a fresh
// emulator, and prints one line:
//
//	bench <scenario>: optimized requests=<n> bytes=<b> strong=<n> seconds=<s> | naive requests=<n> bytes=<b> strong=<n> seconds=<s> | speedup=<x> …
//
// bytes= is the response body bytes the client read. strong= counts the requests that carried Consistency: Strong (reads past
// Dataverse's metadata cache, which cost the server time).
//
// The Terraform scenarios serve the provider in this process (plugin debug
// mode) and drive the terraform CLI with TF_REATTACH_PROVIDERS, so the naive
// switch stays a Go option and never becomes a user setting. Targets are
// printed, not asserted: a bench is not a test.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
)

// Realistic latencies, multiplied by -scale.
const (
	requestLatency   = 20 * time.Millisecond  // every Dataverse and Graph request
	metadataLatency  = 150 * time.Millisecond // a metadata read, in total
	publishBase      = 1 * time.Second        // PublishXml
	publishPerTable  = 20 * time.Millisecond  // PublishXml, per table
	graphQueryDelay  = 30 * time.Second       // a Purview query until it succeeds
	graphPollMinWait = 2 * time.Second        // graph.DefaultPollMin
	graphPollMaxWait = 30 * time.Second       // graph.DefaultPollMax
	// The large catalogue's server-side metadata cost (chosen: Microsoft
	// publishes none): a whole-catalogue read of ~1,400 tables and ~100,000
	// columns takes about 27 s at scale 1, a 25-column table 10 ms.
	metadataReadPerTable  = 5 * time.Millisecond
	metadataReadPerColumn = 200 * time.Microsecond
)

const defaultScale = 0.25

type scenario struct {
	name string
	run  func(ctx context.Context, b *bench) error
}

var scenarios = []scenario{
	{"refresh_300", runRefresh300},
	{"apply_300", runApply300},
	{"changes_10k", runChanges10k},
	{"audit_100k", runAudit100k},
	{"search_50k", runSearch50k},
	{"refresh_300_large", runRefresh300Large},
	{"plan_3_large", runPlan3Large},
	{"apply_300_large", runApply300Large},
	{"entities_large", runEntitiesLarge},
}

type bench struct {
	scale     float64
	terraform string
	// apply300Requests is apply_300's optimized request count, once run:
	// apply_300_large's target.
	apply300Requests int
	// wholeCatalogue is the bytes of one whole-catalogue read of the large
	// catalogue, measured once (large_scenarios.go).
	wholeCatalogue *wholeCatalogueRead
}

// d scales a realistic duration.
func (b *bench) d(x time.Duration) time.Duration {
	v := time.Duration(float64(x) * b.scale)
	if v <= 0 {
		v = time.Microsecond
	}
	return v
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childStreamArg {
		os.Exit(childStream())
	}
	// The provider runs in this process: without these, terraform-plugin-go
	// logs every RPC and HTTP exchange at trace level to stderr.
	for _, v := range []string{"TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_DYNAMICS365"} {
		_ = os.Setenv(v, "off")
	}
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	only := flag.String("scenarios", strings.Join(names, ","), "comma-separated scenarios to run")
	scale := flag.Float64("scale", defaultScale, "multiplier of the realistic latencies (1 = 20 ms a request, 150 ms a metadata read, publishes of 1 s + 20 ms a table)")
	tfPath := flag.String("terraform", "", "terraform binary (default: $TF_ACC_TERRAFORM_PATH, then terraform on PATH)")
	flag.Parse()
	if *scale <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -scale must be positive")
		os.Exit(2)
	}

	b := &bench{scale: *scale, terraform: *tfPath}
	if b.terraform == "" {
		// Without one, the Terraform scenarios fail and the others run.
		b.terraform, _ = acctest.FindTerraform()
	}

	tfVersion := "none found"
	if b.terraform != "" {
		if out, err := exec.Command(b.terraform, "version").Output(); err == nil {
			tfVersion = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
		}
	}
	fmt.Printf("machine: %d CPUs, %s/%s, %s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), tfVersion)
	fmt.Printf("scale: %g (request %s, metadata read %s, publish %s + %s a table, Purview query %s, poll backoff %s..%s; large catalogue: metadata read %s a table + %s a column returned)\n",
		b.scale, b.d(requestLatency), b.d(metadataLatency), b.d(publishBase), b.d(publishPerTable),
		b.d(graphQueryDelay), b.d(graphPollMinWait), b.d(graphPollMaxWait), b.d(metadataReadPerTable), b.d(metadataReadPerColumn))

	selected := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			selected[n] = true
		}
	}
	for n := range selected {
		known := false
		for _, s := range scenarios {
			known = known || s.name == n
		}
		if !known {
			fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (known: %s)\n", n, strings.Join(names, ", "))
			os.Exit(2)
		}
	}

	ctx := context.Background()
	failed := 0
	start := time.Now()
	for _, s := range scenarios {
		if !selected[s.name] {
			continue
		}
		if err := s.run(ctx, b); err != nil {
			fmt.Printf("bench %s: ERROR %v\n", s.name, err)
			failed++
		}
	}
	fmt.Printf("bench total: %.1f seconds\n", time.Since(start).Seconds())
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d scenario(s) failed\n", failed)
		os.Exit(1)
	}
}

// mode is the side of a scenario: the provider (or client) as built, or in
// its naive mode.
type mode int

const (
	optimized mode = iota
	naive
)

func (m mode) String() string {
	if m == naive {
		return "naive"
	}
	return "optimized"
}

// bothModes runs one side of a scenario optimized, then naive.
//
// BENCH_ONLY_OPTIMIZED=1 skips the naive side (its figures print as zero):
// for iterating on the optimized side, never for reported numbers.
func bothModes[R any](runSide func(mode) (R, error)) (opt, nai R, err error) {
	if opt, err = runSide(optimized); err != nil {
		return opt, nai, err
	}
	if os.Getenv("BENCH_ONLY_OPTIMIZED") != "" {
		return opt, nai, nil
	}
	nai, err = runSide(naive)
	return opt, nai, err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func speedup(optimized, naive time.Duration) string {
	if optimized <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", naive.Seconds()/optimized.Seconds())
}
