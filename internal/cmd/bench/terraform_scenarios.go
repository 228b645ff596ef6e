package main

import (
	"context"
	"fmt"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const tableCount = 300

// refreshRun is one side of refresh_300.
type refreshRun struct {
	requests, metadataReads int
	strong                  int // requests with Consistency: Strong
	seconds                 time.Duration
	changes                 bool
}

// runRefresh300: 300 entity resources applied (setup, not timed, without
// latency), then one timed terraform plan against a fresh provider process.
func runRefresh300(ctx context.Context, b *bench) error {
	one := func(side mode) (refreshRun, error) {
		var r refreshRun
		// Refresh never publishes: no publish time for the setup apply.
		e, err := b.newEnv(emulator.Options{ExtraCustomTables: tableCount, PublishBaseDuration: -1, PublishPerTableDuration: -1})
		if err != nil {
			return r, err
		}
		defer e.Close()
		w, err := b.newWorkdir(e.ProviderConfig() + acctest.TablesConfig(benchTables(tableCount), "audit_enabled = true\n  retrieve_audit_enabled = true"))
		if err != nil {
			return r, err
		}
		defer w.remove()
		if _, err := w.apply(ctx, optimized); err != nil {
			return r, fmt.Errorf("setup apply: %w", err)
		}
		b.setLatency(e)
		e.Emulator.ResetCounters()
		r.seconds, r.changes, err = w.plan(ctx, side)
		if err != nil {
			return r, fmt.Errorf("plan (naive=%t): %w", side == naive, err)
		}
		r.requests = e.requests()
		r.metadataReads = e.Emulator.RequestCount("GET EntityDefinitions")
		r.strong = e.Emulator.StrongConsistencyCount()
		return r, nil
	}
	opt, nai, err := bothModes(one)
	if err != nil {
		return err
	}
	fmt.Printf("bench refresh_300: optimized requests=%d metadata_reads=%d strong=%d seconds=%s | naive requests=%d metadata_reads=%d strong=%d seconds=%s | speedup=%s empty_plan=%t/%t\n",
		opt.requests, opt.metadataReads, opt.strong, secs(opt.seconds), nai.requests, nai.metadataReads, nai.strong, secs(nai.seconds),
		speedup(opt.seconds, nai.seconds), !opt.changes, !nai.changes)
	fmt.Printf("  targets: optimized metadata_reads <= 5 (got %d), naive >= 300 (got %d), speedup >= 2\n", opt.metadataReads, nai.metadataReads)
	return nil
}

// applyRun is one side of apply_300.
type applyRun struct {
	requests, publishRequests, publishes int
	strong                               int // requests with Consistency: Strong
	tfErrors, tfLockErrors, conflicts    int
	unpublished                          int
	seconds                              time.Duration
}

func (b *bench) applyOnce(ctx context.Context, side mode, body, extra string) (applyRun, error) {
	var r applyRun
	e, err := b.newEnv(emulator.Options{ExtraCustomTables: tableCount})
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
	r.strong = e.Emulator.StrongConsistencyCount()
	r.publishRequests = e.Emulator.RequestCount("POST PublishXml")
	r.publishes = e.Emulator.PublishCount()
	r.conflicts = e.Emulator.LockConflictCount()
	r.unpublished = len(e.Emulator.UnpublishedEntities())
	if err != nil {
		return r, fmt.Errorf("apply (naive=%t): %d error diagnostics, %d about the lock: %w", side == naive, r.tfErrors, r.tfLockErrors, err)
	}
	return r, nil
}

// runApply300: one timed terraform apply turning auditing on for 300 tables
// with Terraform's default parallelism (10); then the publish = false
// variant with one dynamics365_customizations_publish.
func runApply300(ctx context.Context, b *bench) error {
	body := "audit_enabled = true"
	opt, err := b.applyOnce(ctx, optimized, body, "")
	if err != nil {
		return err
	}
	nai, err := b.applyOnce(ctx, naive, body, "")
	if err != nil {
		return err
	}
	fmt.Printf("bench apply_300: optimized requests=%d strong=%d seconds=%s publishes=%d lock_errors=%d lock_conflicts=%d unpublished=%d | naive requests=%d strong=%d seconds=%s publishes=%d lock_errors=%d lock_conflicts=%d unpublished=%d | speedup=%s\n",
		opt.requests, opt.strong, secs(opt.seconds), opt.publishRequests, opt.tfLockErrors, opt.conflicts, opt.unpublished,
		nai.requests, nai.strong, secs(nai.seconds), nai.publishRequests, nai.tfLockErrors, nai.conflicts, nai.unpublished,
		speedup(opt.seconds, nai.seconds))
	fmt.Printf("  targets: lock_errors = 0 (got %d/%d), optimized publishes <= 40 (got %d), speedup >= 3\n",
		opt.tfLockErrors, nai.tfLockErrors, opt.publishRequests)

	single := `
resource "dynamics365_customizations_publish" "all" {
  entity_logical_names = [for r in dynamics365_entity_audit_settings.t : r.entity_logical_name]
  triggers = {
    for r in dynamics365_entity_audit_settings.t : r.entity_logical_name => jsonencode([r.audit_enabled])
  }
}
`
	body = "audit_enabled = true\n  publish       = false"
	sopt, err := b.applyOnce(ctx, optimized, body, single)
	if err != nil {
		return fmt.Errorf("publish-once variant: %w", err)
	}
	snai, err := b.applyOnce(ctx, naive, body, single)
	if err != nil {
		return fmt.Errorf("publish-once variant: %w", err)
	}
	fmt.Printf("bench apply_300_publish_once: optimized requests=%d strong=%d seconds=%s publishes=%d lock_errors=%d lock_conflicts=%d unpublished=%d | naive requests=%d strong=%d seconds=%s publishes=%d lock_errors=%d lock_conflicts=%d unpublished=%d | speedup=%s\n",
		sopt.requests, sopt.strong, secs(sopt.seconds), sopt.publishRequests, sopt.tfLockErrors, sopt.conflicts, sopt.unpublished,
		snai.requests, snai.strong, secs(snai.seconds), snai.publishRequests, snai.tfLockErrors, snai.conflicts, snai.unpublished,
		speedup(sopt.seconds, snai.seconds))
	fmt.Printf("  targets: exactly 1 publish (got %d optimized, %d naive)\n", sopt.publishRequests, snai.publishRequests)
	return nil
}
