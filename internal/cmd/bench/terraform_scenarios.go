package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const tableCount = 300

// refreshRun is one side of refresh_300.
type refreshRun struct {
	requests         int
	metadataRequests int   // top-level requests to metadata routes and $batch
	bytes            int64 // response bodies read
	strong           int   // requests with Consistency: Strong
	seconds          time.Duration
	changes          bool
}

// planOnce applies config (setup, not timed, without latency), then times
// one terraform plan against a fresh provider process.
func (b *bench) planOnce(ctx context.Context, side mode, opts emulator.Options, config func(*env) string) (refreshRun, error) {
	return b.planAfterSetup(ctx, side, optimized, opts, config)
}

// planAfterSetup is planOnce with the setup apply run on setupSide (the
// large scenarios set up in naive mode, which reads table by table: the
// point is the timed plan, and the setup must not fail where the
// optimized read does).
func (b *bench) planAfterSetup(ctx context.Context, side, setupSide mode, opts emulator.Options, config func(*env) string) (refreshRun, error) {
	var r refreshRun
	// Refresh never publishes: no publish time for the setup apply.
	opts.PublishBaseDuration, opts.PublishPerTableDuration = -1, -1
	e, err := b.newEnv(opts)
	if err != nil {
		return r, err
	}
	defer e.Close()
	w, err := b.newWorkdir(config(e))
	if err != nil {
		return r, err
	}
	defer w.remove()
	if _, err := w.apply(ctx, setupSide); err != nil {
		return r, fmt.Errorf("setup apply: %w", err)
	}
	b.setLatency(e)
	e.Emulator.ResetCounters()
	r.seconds, r.changes, err = w.plan(ctx, side)
	// Counted also when the plan failed: the large scenarios print what a
	// failing side read.
	r.requests = e.requests()
	r.bytes = e.bytes()
	r.metadataRequests = e.metadataRequests()
	r.strong = e.Emulator.StrongConsistencyCount()
	if os.Getenv("BENCH_ROUTES") != "" {
		e.printRoutes("plan", side)
	}
	if err != nil {
		return r, fmt.Errorf("plan (naive=%t): %w", side == naive, err)
	}
	return r, nil
}

// refreshConfig is 300 applied entity resources with auditing on.
func refreshConfig(e *env) string {
	return e.ProviderConfig() + acctest.TablesConfig(benchTables(tableCount), "audit_enabled = true\n  retrieve_audit_enabled = true")
}

// runRefresh300: 300 entity resources applied, then one timed plan.
func runRefresh300(ctx context.Context, b *bench) error {
	opt, nai, err := bothModes(func(side mode) (refreshRun, error) {
		return b.planOnce(ctx, side, emulator.Options{ExtraCustomTables: tableCount}, refreshConfig)
	})
	if err != nil {
		return err
	}
	fmt.Printf("bench refresh_300: optimized requests=%d bytes=%d metadata_requests=%d strong=%d seconds=%s | naive requests=%d bytes=%d metadata_requests=%d strong=%d seconds=%s | speedup=%s empty_plan=%t/%t\n",
		opt.requests, opt.bytes, opt.metadataRequests, opt.strong, secs(opt.seconds), nai.requests, nai.bytes, nai.metadataRequests, nai.strong, secs(nai.seconds),
		speedup(opt.seconds, nai.seconds), !opt.changes, !nai.changes)
	fmt.Printf("  targets: optimized requests <= 5 (got %d), naive metadata_requests >= 300 (got %d), speedup >= 2\n", opt.requests, nai.metadataRequests)
	return nil
}

// applyRun is one side of apply_300.
type applyRun struct {
	requests, publishRequests, publishes int
	bytes                                int64 // response bodies read
	strong                               int   // requests with Consistency: Strong
	tfErrors, tfLockErrors, conflicts    int
	unpublished                          int
	seconds                              time.Duration
}

func (b *bench) applyOnce(ctx context.Context, side mode, opts emulator.Options, body, extra string) (applyRun, error) {
	var r applyRun
	e, err := b.newEnv(opts)
	if err != nil {
		return r, err
	}
	defer e.Close()
	b.setLatency(e)
	w, err := b.newWorkdir(e.ProviderConfig() + acctest.TablesConfig(benchTables(tableCount), body) + extra)
	if err != nil {
		return r, err
	}
	defer w.remove()
	e.Emulator.ResetCounters()
	r.seconds, err = w.apply(ctx, side)
	r.tfErrors, r.tfLockErrors = w.errorDiagnostics()
	r.requests = e.requests()
	r.bytes = e.bytes()
	r.strong = e.Emulator.StrongConsistencyCount()
	r.publishRequests = e.Emulator.RequestCount("POST PublishXml")
	r.publishes = e.Emulator.PublishCount()
	r.conflicts = e.Emulator.LockConflictCount()
	r.unpublished = len(e.Emulator.UnpublishedEntities())
	if os.Getenv("BENCH_ROUTES") != "" {
		e.printRoutes("apply", side)
	}
	if err != nil {
		return r, fmt.Errorf("apply (naive=%t): %d error diagnostics, %d about the lock: %w", side == naive, r.tfErrors, r.tfLockErrors, err)
	}
	return r, nil
}

// runApply300: one timed terraform apply turning auditing on for 300 tables
// with Terraform's default parallelism (10); then the publish = false
// variant with one dynamics365_customizations_publish.
func runApply300(ctx context.Context, b *bench) error {
	opts := emulator.Options{ExtraCustomTables: tableCount}
	body := "audit_enabled = true"
	opt, nai, err := bothModes(func(side mode) (applyRun, error) { return b.applyOnce(ctx, side, opts, body, "") })
	if err != nil {
		return err
	}
	printApply("apply_300", opt, nai)
	b.apply300Requests = opt.requests
	fmt.Printf("  targets: optimized requests <= 1.5 per table (got %.2f), publishes <= 40 (got %d), lock_errors = 0 (got %d/%d), speedup >= 8 (got %s)\n",
		float64(opt.requests)/tableCount, opt.publishRequests, opt.tfLockErrors, nai.tfLockErrors, speedup(opt.seconds, nai.seconds))

	single := `
resource "dynamics365_customizations_publish" "all" {
  entity_logical_names = [for r in dynamics365_entity_audit_settings.t : r.entity_logical_name]
  triggers = {
    for r in dynamics365_entity_audit_settings.t : r.entity_logical_name => jsonencode([r.audit_enabled])
  }
}
`
	body = "audit_enabled = true\n  publish       = false"
	sopt, snai, err := bothModes(func(side mode) (applyRun, error) { return b.applyOnce(ctx, side, opts, body, single) })
	if err != nil {
		return fmt.Errorf("publish-once variant: %w", err)
	}
	printApply("apply_300_publish_once", sopt, snai)
	fmt.Printf("  targets: exactly 1 publish (got %d optimized, %d naive)\n", sopt.publishRequests, snai.publishRequests)
	return nil
}

// printApply prints the line of an apply scenario.
func printApply(name string, opt, nai applyRun) {
	side := func(r applyRun) string {
		return fmt.Sprintf("requests=%d bytes=%d strong=%d seconds=%s publishes=%d lock_errors=%d lock_conflicts=%d unpublished=%d",
			r.requests, r.bytes, r.strong, secs(r.seconds), r.publishRequests, r.tfLockErrors, r.conflicts, r.unpublished)
	}
	fmt.Printf("bench %s: optimized %s | naive %s | speedup=%s\n", name, side(opt), side(nai), speedup(opt.seconds, nai.seconds))
}
