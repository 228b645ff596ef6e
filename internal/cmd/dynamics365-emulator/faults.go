package main

import (
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// Fault kinds of -fault-kinds.
const (
	faultStatus = "status" // 429, 500, 502, 503, 504 in turn
	faultReset  = "reset"  // the connection is dropped, nothing applied
	faultLost   = "lost"   // the request is handled (a write applied), the answer dropped
	faultHang   = "hang"   // held for -fault-hang, then dropped
)

var faultKinds = []string{faultStatus, faultReset, faultLost, faultHang}

// faultFlags are the server's fault injection flags.
type faultFlags struct {
	rate    float64
	kinds   string
	seed    int64
	hang    time.Duration
	latency time.Duration
}

func (f *faultFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&f.rate, "fault-rate", 0, "share (0..1) of Dataverse and Graph requests that fail, split evenly over -fault-kinds")
	fs.StringVar(&f.kinds, "fault-kinds", faultStatus, "comma-separated kinds of -fault-rate failures: status (429/500/502/503/504 in turn, Retry-After 1s), reset (connection dropped, nothing applied), lost (handled, a write applied, answer dropped), hang (held for -fault-hang, then dropped)")
	fs.Int64Var(&f.seed, "fault-seed", 1, "seed of the -fault-rate generator: the same seed and requests fail the same way")
	fs.DurationVar(&f.hang, "fault-hang", 30*time.Second, "how long a hang fault holds a request before dropping it")
	fs.DurationVar(&f.latency, "latency", 0, "delay added to every Dataverse and Graph request")
}

func (f *faultFlags) validate() error {
	if f.rate < 0 || f.rate > 1 || f.latency < 0 {
		return fmt.Errorf("-fault-rate must be between 0 and 1 and -latency not negative")
	}
	if f.hang <= 0 {
		return fmt.Errorf("-fault-hang must be positive")
	}
	_, err := f.kindList()
	return err
}

func (f *faultFlags) kindList() ([]string, error) {
	var kinds []string
	for _, k := range strings.Split(f.kinds, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(faultKinds, k) {
			return nil, fmt.Errorf("-fault-kinds: unknown kind %q: use %s", k, strings.Join(faultKinds, ", "))
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

// rules turns the flags into fault rules: one per kind, matching every
// Dataverse and Graph request. Rules are tried in order and the first
// whose draw fails a request decides, so rule i fails a share
// (rate/k) / (1 - i·rate/k) of the requests that reach it: each kind then
// fails rate/k of all requests, and together they fail rate. The first
// rule carries the latency.
func (f *faultFlags) rules() ([]emulator.FaultRule, error) {
	kinds, err := f.kindList()
	if err != nil {
		return nil, err
	}
	if f.rate == 0 {
		if f.latency == 0 {
			return nil, nil
		}
		return []emulator.FaultRule{{Latency: f.latency}}, nil
	}
	share := f.rate / float64(len(kinds))
	rules := make([]emulator.FaultRule, 0, len(kinds))
	for i, kind := range kinds {
		rule := emulator.FaultRule{Fraction: share / (1 - float64(i)*share)}
		if i == 0 {
			rule.Latency = f.latency
		}
		switch kind {
		case faultStatus:
			rule.Statuses = []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
			rule.RetryAfter = time.Second
		case faultReset:
			rule.Statuses = []int{0}
		case faultLost:
			rule.Statuses = []int{0}
			rule.AfterHandler = true
		case faultHang:
			rule.Statuses = []int{0}
			rule.Hang = f.hang
		}
		rules = append(rules, rule)
	}
	return rules, nil
}
