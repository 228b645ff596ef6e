package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Coalescing per-table metadata reads. Terraform runs up to ten resource
// operations at once (-parallelism); each reads its table (and, before a
// PUT, its full saved definition). The definitionBatcher gathers the
// definition reads of concurrent callers (RetrieveEntity for the saved
// view, plain GETs for the published one) and sends them as one $batch
// (one GET when only one was gathered): ten tables cost one request, not
// twenty or thirty.

// DefaultMetadataFlushWindow is how long the first caller of a gathering
// waits for others before the batch is sent.
const DefaultMetadataFlushWindow = 5 * time.Millisecond

// flushPolicy decides when gathered reads are sent. waiting is how many
// callers have reads in the gathering so far. A policy that knows how many
// resource operations are in flight (dataverse.Activity) can flush as soon
// as all of them wait here; windowFlush waits a fixed time.
type flushPolicy interface {
	await(ctx context.Context, waiting func() int)
}

// windowFlush waits a fixed window; zero or less flushes at once.
type windowFlush time.Duration

func (w windowFlush) await(ctx context.Context, _ func() int) {
	if w <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(w))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// activityFlush waits at least min, then sends as soon as every tracked
// resource operation waits on a coalescer, or when the window ends. The
// minimum matters at the start of a walk: Terraform starts its ten
// operations within a few milliseconds of each other, and the first to
// arrive would otherwise find itself the only one in flight and go alone.
type activityFlush struct {
	activity *Activity
	min      time.Duration
	window   time.Duration
}

func (f activityFlush) await(ctx context.Context, _ func() int) {
	t := time.NewTimer(f.min)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return // ctx ending just sends the batch
	}
	_, _ = f.activity.SettleReads(ctx, f.window-f.min)
}

// metadataFlushPolicy picks the batcher's policy from the cache options
// (after their defaults were applied).
func metadataFlushPolicy(opts MetadataCacheOptions) flushPolicy {
	if opts.Activity == nil || opts.FlushWindow <= 0 {
		return windowFlush(opts.FlushWindow)
	}
	return activityFlush{activity: opts.Activity, min: min(opts.FlushWindow, DefaultMetadataFlushWindow), window: max(opts.FlushWindow, ActivityMetadataFlushWindow)}
}

// definitionRead is what a definitionCall reads.
type definitionRead int

const (
	// savedDefinition: RetrieveEntity with RetrieveAsIfPublished=true, with
	// or without every column.
	savedDefinition definitionRead = iota
	// publishedTable: the table's published audit fields (plain GET, $select).
	publishedTable
	// publishedColumns: the published audit field of some columns (GET of
	// the table's Attributes, $select and $filter).
	publishedColumns
)

// definitionCall is one read of a table's definition.
type definitionCall struct {
	table       string
	read        definitionRead
	columns     ColumnsOption // savedDefinition
	columnNames []string      // publishedColumns
	consistency ReadConsistency
}

func (d definitionCall) path() string {
	switch d.read {
	case publishedTable:
		return publishedAuditPath(oneTable(d.table), WithoutColumns)
	case publishedColumns:
		return publishedColumnsPath(d.table, d.columnNames)
	}
	return metadataFunctionPath(oneTable(d.table), d.columns)
}

// payload is the definition in an answer to the call: EntityMetadata of a
// RetrieveEntity answer, the whole answer of a plain GET.
func (d definitionCall) payload(body []byte) (json.RawMessage, error) {
	if d.read == savedDefinition {
		return entityMetadataOf(body, d.path())
	}
	if _, err := parseJSONObjectChecked(body); err != nil {
		return nil, fmt.Errorf("dataverse: GET %s: the answer is not a metadata definition: %w", d.path(), err)
	}
	return body, nil
}

// gathering is the set of calls that will go in one batch.
type gathering struct {
	calls   []definitionCall
	callers int
	done    chan struct{}
	answers []batchAnswer
	err     error // the batch request failed
}

// definitionBatcher coalesces RetrieveEntity calls of concurrent callers.
type definitionBatcher struct {
	c      *Client
	policy flushPolicy
	// activity is told that a caller waits here (nil: nothing tracked).
	activity *Activity

	mu   sync.Mutex
	open *gathering

	requests int // batches and single GETs sent, for Stats
}

func newDefinitionBatcher(c *Client, policy flushPolicy, activity *Activity) *definitionBatcher {
	return &definitionBatcher{c: c, policy: policy, activity: activity}
}

// read sends calls (with those of concurrent callers) and returns each
// call's EntityMetadata, or its error (IsNotFound for an unknown table).
// The batch runs to its end even when ctx ends; ctx only stops the wait.
func (b *definitionBatcher) read(ctx context.Context, calls []definitionCall) ([]json.RawMessage, []error, error) {
	b.mu.Lock()
	g := b.open
	leader := g == nil || len(g.calls)+len(calls) > MaxBatchSize
	if leader {
		g = &gathering{done: make(chan struct{})}
		b.open = g
	}
	first := len(g.calls)
	g.calls = append(g.calls, calls...)
	g.callers++
	b.mu.Unlock()
	// Marked waiting only once the calls are in the gathering, so a flush
	// that this wait allows carries them.
	release := b.activity.Waiting(ctx)
	defer release()

	if leader {
		// Detached: the callers that joined must get their answers even if
		// the leader gives up.
		go b.flush(context.WithoutCancel(ctx), g)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if g.err != nil {
		return nil, nil, g.err
	}
	defs := make([]json.RawMessage, len(calls))
	errs := make([]error, len(calls))
	for i := range calls {
		a := g.answers[first+i]
		if a.err != nil {
			errs[i] = a.err
			continue
		}
		defs[i], errs[i] = calls[i].payload(a.body)
	}
	return defs, errs, nil
}

func (b *definitionBatcher) flush(ctx context.Context, g *gathering) {
	defer close(g.done)
	b.policy.await(ctx, func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return g.callers
	})
	b.mu.Lock()
	if b.open == g {
		b.open = nil
	}
	calls := g.calls
	b.requests++
	b.mu.Unlock()
	g.answers, g.err = b.send(ctx, calls)
}

// send is one GET for one call, a $batch for more. Consistency: Strong goes
// on every part that asks for it and on the batch request when any does
// (whether parts honour it is not documented).
func (b *definitionBatcher) send(ctx context.Context, calls []definitionCall) ([]batchAnswer, error) {
	if len(calls) == 1 {
		resp, err := b.c.Do(ctx, &Request{Method: http.MethodGet, Path: calls[0].path(), Header: calls[0].consistency.headers()})
		if err != nil {
			if _, answered := AsError(err); answered {
				return []batchAnswer{{err: err}}, nil
			}
			return nil, err
		}
		return []batchAnswer{{body: resp.Body}}, nil
	}
	gets := make([]batchGet, len(calls))
	var header http.Header
	for i, call := range calls {
		gets[i] = batchGet{path: call.path(), header: call.consistency.headers()}
		if call.consistency == StrongRead {
			header = StrongRead.headers()
		}
	}
	return b.c.sendBatchGets(ctx, gets, header, "definition reads")
}

// entityMetadataOf takes EntityMetadata out of a RetrieveEntity answer.
func entityMetadataOf(body []byte, path string) (json.RawMessage, error) {
	var w struct {
		EntityMetadata json.RawMessage `json:"EntityMetadata"`
	}
	if err := json.Unmarshal(body, &w); err != nil || len(w.EntityMetadata) == 0 {
		return nil, fmt.Errorf("dataverse: GET %s: the answer has no EntityMetadata", path)
	}
	if _, err := parseJSONObjectChecked(w.EntityMetadata); err != nil {
		return nil, fmt.Errorf("dataverse: GET %s: the answer is not a metadata definition: %w", path, err)
	}
	return w.EntityMetadata, nil
}

// readAudit reads one table's saved definition and its published audit
// fields — with the published field of the columns in published when
// columns is WithColumns — coalesced with other callers' reads. An unknown
// table is an error for which IsNotFound is true.
func (b *definitionBatcher) readAudit(ctx context.Context, table string, columns ColumnsOption, published []string, consistency ReadConsistency) (*EntityAuditInfo, error) {
	if err := ValidateLogicalName(table); err != nil {
		return nil, err
	}
	for _, col := range published {
		if err := ValidateLogicalName(col); err != nil {
			return nil, err
		}
	}
	calls := []definitionCall{
		{table: table, read: savedDefinition, columns: columns, consistency: consistency},
		{table: table, read: publishedTable, consistency: consistency},
	}
	if columns == WithColumns && len(published) > 0 {
		calls = append(calls, definitionCall{table: table, read: publishedColumns, columnNames: published, consistency: consistency})
	}
	defs, errs, err := b.read(ctx, calls)
	if err != nil {
		return nil, err
	}
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	var cols json.RawMessage
	if len(defs) > 2 {
		cols = defs[2]
	}
	return auditInfoOf(table, defs[0], defs[1], cols, columns)
}

// readSaved returns the saved full definition of a table, read strongly (it
// will be spliced and written back), coalesced with other callers' reads.
func (b *definitionBatcher) readSaved(ctx context.Context, table string, columns ColumnsOption) (json.RawMessage, error) {
	if err := ValidateLogicalName(table); err != nil {
		return nil, err
	}
	defs, errs, err := b.read(ctx, []definitionCall{{table: table, read: savedDefinition, columns: columns, consistency: StrongRead}})
	if err != nil {
		return nil, err
	}
	return defs[0], errs[0]
}
