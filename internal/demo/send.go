package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/progress"
)

// Delivery is one signed webhook ready to post.
type Delivery struct {
	EventID string
	Body    []byte
}

// Deliveries turns the shop into webhook bodies: the catalog as one batch,
// the history in batches of batchSize (a backfill), the rest one by one.
func (s Shop) Deliveries(batchSize int) ([]Delivery, error) {
	var out []Delivery
	add := func(id string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", id, err)
		}
		out = append(out, Delivery{EventID: id, Body: b})
		return nil
	}
	if err := add("catalog", s.Catalog); err != nil {
		return nil, err
	}
	for i := 0; i < len(s.History); i += batchSize {
		if err := add(fmt.Sprintf("history-%d", i/batchSize), s.History[i:min(i+batchSize, len(s.History))]); err != nil {
			return nil, err
		}
	}
	for _, ev := range s.Live {
		if err := add(ev.ID, ev); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Stats counts the answers remarket gave.
type Stats struct {
	Sent     int         `json:"sent"`
	ByStatus map[int]int `json:"by_status"`
}

// Poster signs and posts deliveries to a store's generic webhook endpoint.
type Poster struct {
	URL    string // e.g. http://127.0.0.1:8080/webhooks/generic/7
	Secret string
	Client *http.Client
}

// Post sends one delivery and returns the HTTP status.
func (p Poster) Post(ctx context.Context, d Delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ingest.GenericEventID, d.EventID)
	req.Header.Set(ingest.GenericSignature, ingest.SignGeneric(p.Secret, d.Body))
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", d.EventID, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// PostAll sends every delivery with the given concurrency, showing progress.
func (p Poster) PostAll(ctx context.Context, ds []Delivery, concurrency int, progressTo io.Writer) (Stats, error) {
	st := Stats{ByStatus: map[int]int{}}
	var mu sync.Mutex
	var firstErr error
	bar := progress.New(progressTo, "posting webhooks", int64(len(ds)), progress.WithUnit("webhooks"))
	work := make(chan Delivery)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				code, err := p.Post(ctx, d)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				st.Sent++
				st.ByStatus[code]++
				mu.Unlock()
				bar.Add(1)
			}
		}()
	}
	for _, d := range ds {
		work <- d
	}
	close(work)
	wg.Wait()
	bar.Done()
	return st, firstErr
}

// NewClient is an HTTP client with timeouts like a shop platform's.
func NewClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}
