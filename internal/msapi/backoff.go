package msapi

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff returns the wait before retry n (from 0) of a jittered
// exponential backoff: minWait·2^n, capped at maxWait, with "equal jitter"
// (half of it fixed, the other half random), so that clients retrying the
// same failure spread out but never retry at once.
func Backoff(minWait, maxWait time.Duration, n int) time.Duration {
	base := maxWait
	if n >= 0 && n < 62 {
		if m := minWait << uint(n); m > 0 && m>>uint(n) == minWait && m < maxWait {
			base = m
		}
	}
	return Jitter(base, 0.5)
}

// Jitter returns d less a random part of at most share of it (share from 0
// to 1): Jitter(d, 0.5) is in [d/2, d]. Backoff uses it, and so do waits
// that grow from the previous one (polling).
func Jitter(d time.Duration, share float64) time.Duration {
	if d <= 0 || share <= 0 {
		return d
	}
	spread := time.Duration(float64(d) * min(share, 1))
	return d - spread + rand.N(spread+1)
}

// Sleep waits d, or until ctx ends and returns its error. A wait of zero or
// less returns at once (ctx's error if it has ended).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NextPollWait is the wait after d between polls of a long-running
// operation: twice d less up to a quarter of it (a factor in [1.5, 2]),
// within [minWait, maxWait].
func NextPollWait(d, minWait, maxWait time.Duration) time.Duration {
	next := maxWait
	if d <= math.MaxInt64/2 { // twice d does not overflow
		next = min(Jitter(2*d, 0.25), maxWait)
	}
	return max(next, minWait)
}
