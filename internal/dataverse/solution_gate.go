package dataverse

import "sync"

// solutionGate keeps a client's metadata PUTs and its publishes apart:
// Dataverse holds one customization lock per environment, and a PUT sent
// while a publish runs may be refused with it, costing a retry wait. PUTs
// run alongside each other, publishes too (the Publisher serialises its
// batches; the naive per-resource mode does not), but never a PUT with a
// publish. A waiting publish goes first: new PUTs wait for it. Other
// processes can still collide; those refusals are retried
// (writeRetryingLock, Publisher).
type solutionGate struct {
	mu      sync.Mutex
	changed *sync.Cond
	puts    int // PUTs running
	pubs    int // publishes running
	waiting int // publishes waiting
}

func newSolutionGate() *solutionGate {
	g := &solutionGate{}
	g.changed = sync.NewCond(&g.mu)
	return g
}

// put runs a metadata write once no publish runs or waits.
func (g *solutionGate) put(write func() error) error {
	g.mu.Lock()
	for g.pubs > 0 || g.waiting > 0 {
		g.changed.Wait()
	}
	g.puts++
	g.mu.Unlock()
	defer g.leave(&g.puts)
	return write()
}

// publish runs a publish once no metadata write runs.
func (g *solutionGate) publish(send func() error) error {
	g.mu.Lock()
	g.waiting++
	for g.puts > 0 {
		g.changed.Wait()
	}
	g.waiting--
	g.pubs++
	g.mu.Unlock()
	defer g.leave(&g.pubs)
	return send()
}

func (g *solutionGate) leave(running *int) {
	g.mu.Lock()
	*running--
	g.mu.Unlock()
	g.changed.Broadcast()
}
