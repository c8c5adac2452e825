package campaign

import (
	"testing"
	"time"
)

// TestBatchSize: jobs of 100–400 recipients in whole rounds of 16 jobs;
// smaller behind a rate limit, so that 16 workers sharing it finish a job in
// half an hour; BatchSize when set.
func TestBatchSize(t *testing.T) {
	for _, c := range []struct {
		queued int64
		rate   float64
		set    int
		want   int
	}{
		{queued: 1, want: 100}, {queued: 3000, want: 188}, {queued: 6400, want: 400}, {queued: 6401, want: 201},
		{queued: 10000, want: 313}, {queued: 12800, want: 400}, {queued: 200000, want: 391},
		{queued: 200000, rate: 10, want: 391}, {queued: 200000, rate: 1, want: 112},
		{queued: 200000, rate: 0.01, want: 1}, {queued: 3000, set: 7, rate: 1, want: 7},
	} {
		s := &Service{RatePerSecond: c.rate, BatchSize: c.set}
		got := s.batchSize(c.queued)
		if got != c.want {
			t.Errorf("batchSize(%d) at %g/s (BatchSize %d) = %d, want %d", c.queued, c.rate, c.set, got, c.want)
		}
		if jobs := (c.queued + int64(got) - 1) / int64(got); c.rate == 0 && c.set == 0 && got > claimChunk && jobs%EmailWorkers != 0 {
			t.Errorf("batchSize(%d) = %d: %d jobs, not whole rounds of %d", c.queued, got, jobs, EmailWorkers)
		}
		if c.rate > 0 && c.set == 0 && time.Duration(float64(got)*EmailWorkers/c.rate*float64(time.Second)) > 30*time.Minute+time.Minute {
			t.Errorf("a job of %d at %g/s shared by %d workers takes more than half an hour", got, c.rate, EmailWorkers)
		}
	}
}

// TestJobTimeout: an hour, or twice a job's time at a rate shared by the
// email workers when longer.
func TestJobTimeout(t *testing.T) {
	job := SendBatchArgs{FromID: 1, ToID: 400}
	if got := (&Service{}).JobTimeout(job); got != time.Hour {
		t.Errorf("no rate: %v, want an hour", got)
	}
	if got := (&Service{RatePerSecond: 100}).JobTimeout(job); got != time.Hour {
		t.Errorf("100/s: %v, want an hour", got)
	}
	// 400 recipients × 16 workers / 1 per second = 6,400 s; twice that.
	if got, want := (&Service{RatePerSecond: 1}).JobTimeout(job), 12800*time.Second; got != want {
		t.Errorf("1/s: %v, want %v", got, want)
	}
}
