package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// The large-catalogue scenarios run the small ones' configurations (the
// generated new_bench tables) in an environment that also holds a large
// organization's catalogue (emulator Options.LargeCatalogue: 1,000 more
// tables, 93,000 more columns), where every metadata read costs
// metadataReadPerTable and metadataReadPerColumn for what it returns.

// bothSides runs a scenario's two sides even when one fails, so that a
// side the provider cannot yet complete on the large catalogue still
// prints what it read; the error names the failed sides.
func bothSides[R any](runSide func(mode) (R, error)) (opt, nai R, err error) {
	opt, optErr := runSide(optimized)
	nai, naiErr := runSide(naive)
	return opt, nai, errors.Join(optErr, naiErr)
}

// failed prints a failed scenario's error after its line.
func failed(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: the counts above are up to the failure: %w", name, err)
}

// largeOptions is the large environment.
func (b *bench) largeOptions() emulator.Options {
	return emulator.Options{
		ExtraCustomTables: tableCount,
		LargeCatalogue:    true,
		MetadataReadCost:  emulator.MetadataReadCost{PerTable: b.d(metadataReadPerTable), PerColumn: b.d(metadataReadPerColumn)},
	}
}

// wholeCatalogueRead is the size of one read of every table with all its
// columns: the reference of refresh_300_large's bytes target.
type wholeCatalogueRead struct {
	retrieveAll, expandAttributes int64
	seconds                       time.Duration // the RetrieveAllEntities read, with the metadata cost
}

// wholeCatalogue measures, once per run, RetrieveAllEntities with
// EntityFilters Attributes and EntityDefinitions?$expand=Attributes in a
// fresh large environment, and prints them.
func (b *bench) measureWholeCatalogue(ctx context.Context) (*wholeCatalogueRead, error) {
	if b.wholeCatalogue != nil {
		return b.wholeCatalogue, nil
	}
	e, err := b.newEnv(b.largeOptions())
	if err != nil {
		return nil, err
	}
	defer e.Close()
	tok, err := e.Emulator.IssueAccessToken(e.ClientID, e.Emulator.EnvironmentURL(), time.Hour)
	if err != nil {
		return nil, err
	}
	read := func(path string) (int64, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Emulator.EnvironmentURL()+"/api/data/v9.2/"+path, nil)
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		start := time.Now()
		resp, err := e.Emulator.HTTPClient().Do(req)
		if err != nil {
			return 0, 0, err
		}
		defer func() { _ = resp.Body.Close() }()
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return n, time.Since(start), err
	}
	w := &wholeCatalogueRead{}
	if w.retrieveAll, w.seconds, err = read("RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',RetrieveAsIfPublished=false)"); err != nil {
		return nil, err
	}
	if w.expandAttributes, _, err = read("EntityDefinitions?$expand=Attributes"); err != nil {
		return nil, err
	}
	tables := len(e.Emulator.EntityNames())
	fmt.Printf("bench whole_catalogue_read: tables=%d retrieve_all_entities_bytes=%d expand_attributes_bytes=%d seconds=%s (one RetrieveAllEntities(EntityFilters=Attributes), with the metadata read cost)\n",
		tables, w.retrieveAll, w.expandAttributes, secs(w.seconds))
	b.wholeCatalogue = w
	return w, nil
}

// runRefresh300Large: refresh_300 on the large catalogue.
func runRefresh300Large(ctx context.Context, b *bench) error {
	whole, err := b.measureWholeCatalogue(ctx)
	if err != nil {
		return err
	}
	opt, nai, err := bothSides(func(side mode) (refreshRun, error) {
		return b.planAfterSetup(ctx, side, naive, b.largeOptions(), refreshConfig)
	})
	printLargePlan("refresh_300_large", opt, nai)
	fmt.Printf("  targets: optimized requests <= 5 (got %d), bytes <= 25%% of one whole-catalogue read (got %.1f%% of %d), speedup >= 3 (got %s)\n",
		opt.requests, 100*float64(opt.bytes)/float64(whole.retrieveAll), whole.retrieveAll, speedup(opt.seconds, nai.seconds))
	return failed("refresh_300_large", err)
}

// plan3Config is three tables with some of their columns.
func plan3Config(e *env) string {
	return e.ProviderConfig() + acctest.TablesConfig(benchTables(3), `audit_enabled = true
  attributes = {
    new_code  = true
    new_score = true
    new_phase = false
  }`)
}

// runPlan3Large: a plan of 3 tables with columns on the large catalogue.
func runPlan3Large(ctx context.Context, b *bench) error {
	if _, err := b.measureWholeCatalogue(ctx); err != nil {
		return err
	}
	opt, nai, err := bothSides(func(side mode) (refreshRun, error) {
		return b.planAfterSetup(ctx, side, naive, b.largeOptions(), plan3Config)
	})
	printLargePlan("plan_3_large", opt, nai)
	fmt.Printf("  targets: optimized metadata_requests <= 3 (got %d), bytes <= 300 KB (got %.1f KB)\n",
		opt.metadataRequests, float64(opt.bytes)/1024)
	return failed("plan_3_large", err)
}

// entitiesConfig is two dynamics365_entities data sources: three named
// tables, and the tables of the "sales" audit area.
func entitiesConfig(e *env) string {
	return e.ProviderConfig() + fmt.Sprintf(`
data "dynamics365_entities" "named" {
  logical_names = [%q, %q, %q]
}

data "dynamics365_entities" "sales" {
  area = "sales"
}

output "tables" {
  value = length(data.dynamics365_entities.named.names) + length(data.dynamics365_entities.sales.names)
}
`, benchTables(3)[0], benchTables(3)[1], benchTables(3)[2])
}

// runEntitiesLarge: a plan that reads two dynamics365_entities data sources
// on the large catalogue. There is no naive side: before, the data source
// read every table with every column in one answer (the whole-catalogue
// read printed above), which the provider's 256 MiB answer limit refuses.
func runEntitiesLarge(ctx context.Context, b *bench) error {
	whole, err := b.measureWholeCatalogue(ctx)
	if err != nil {
		return err
	}
	opt, err := b.planAfterSetup(ctx, optimized, optimized, b.largeOptions(), entitiesConfig)
	fmt.Printf("bench entities_large: optimized requests=%d bytes=%d metadata_requests=%d strong=%d seconds=%s | naive n/a (before: one read of every table with every column, %d bytes)\n",
		opt.requests, opt.bytes, opt.metadataRequests, opt.strong, secs(opt.seconds), whole.retrieveAll)
	fmt.Printf("  targets: bytes grow with the tables returned (3 named + the sales area's), not with the catalogue: got %.1f%% of one whole-catalogue read\n",
		100*float64(opt.bytes)/float64(whole.retrieveAll))
	return failed("entities_large", err)
}

// runApply300Large: apply_300 (publish per resource) on the large catalogue.
func runApply300Large(ctx context.Context, b *bench) error {
	if _, err := b.measureWholeCatalogue(ctx); err != nil {
		return err
	}
	opt, nai, err := bothSides(func(side mode) (applyRun, error) {
		return b.applyOnce(ctx, side, b.largeOptions(), "audit_enabled = true", "")
	})
	printApply("apply_300_large", opt, nai)
	small := "apply_300 not run"
	if b.apply300Requests > 0 {
		small = fmt.Sprintf("apply_300: %d", b.apply300Requests)
	}
	fmt.Printf("  targets: optimized requests = apply_300's (got %d, %s), lock_errors = 0 (got %d/%d)\n",
		opt.requests, small, opt.tfLockErrors, nai.tfLockErrors)
	return failed("apply_300_large", err)
}

// printLargePlan prints the line of a large-catalogue plan scenario.
func printLargePlan(name string, opt, nai refreshRun) {
	side := func(r refreshRun) string {
		return fmt.Sprintf("requests=%d bytes=%d metadata_requests=%d strong=%d seconds=%s", r.requests, r.bytes, r.metadataRequests, r.strong, secs(r.seconds))
	}
	fmt.Printf("bench %s: optimized %s | naive %s | speedup=%s empty_plan=%t/%t\n", name, side(opt), side(nai), speedup(opt.seconds, nai.seconds), !opt.changes, !nai.changes)
}
