package emulator

import (
	crand "crypto/rand"
	"math/rand/v2"
	"sync"

	"github.com/google/uuid"
)

// idSource makes the random ids of audit rows, records, Graph queries and
// unified log records from a fast generator seeded once, under its own
// lock (crypto/rand per id would slow down bulk seeding).
type idSource struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
}

func newIDSource() *idSource {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	return &idSource{rng: rand.NewChaCha8(seed)}
}

// newUUID returns a random (version 4) id.
func (s *idSource) newUUID() uuid.UUID {
	var id uuid.UUID
	s.mu.Lock()
	_, _ = s.rng.Read(id[:])
	s.mu.Unlock()
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}
