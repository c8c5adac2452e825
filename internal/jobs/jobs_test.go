package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/remarket/remarket/internal/ingest"
)

// TestDeliveryRetrySchedule: a delivery that came before its order is
// retried within seconds at first, then on River's own slower schedule.
func TestDeliveryRetrySchedule(t *testing.T) {
	w := &DeliveryWorker{}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second} {
		job := &river.Job[ingest.DeliveryArgs]{JobRow: &rivertype.JobRow{Attempt: attempt}}
		if d := time.Until(w.NextRetry(job)); d < want-time.Second/2 || d > want {
			t.Errorf("attempt %d: retry in %s, want %s", attempt, d, want)
		}
	}
	if next := w.NextRetry(&river.Job[ingest.DeliveryArgs]{JobRow: &rivertype.JobRow{Attempt: 5}}); !next.IsZero() {
		t.Errorf("attempt 5: retry at %s, want River's policy (zero time)", next)
	}
}
