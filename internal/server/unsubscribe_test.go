package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

// subscribedCustomer adds a store with one subscribed customer and returns
// them with an unsubscribe token signed with secret.
func subscribedCustomer(t *testing.T, pool *pgxpool.Pool, secret string) (store.Store, int64, string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "U Shop", Platform: "generic", Domain: "u.example", WebhookSecret: "x", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	cid, err := store.CustomerUpsert(ctx, pool, st.ID, &shop.Customer{Email: "ana@example.com", Consent: shop.ConsentSubscribed, ConsentAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return st, cid, track.NewSigner(secret).Sign(track.Token{Purpose: track.PurposeUnsubscribe, StoreID: st.ID, CustomerID: cid, SendID: 9})
}

func TestUnsubscribeRoundTrip(t *testing.T) {
	t.Parallel()
	const secret = "unsubscribe-test-secret"
	pool := dbtest.New(t)
	srv, err := New(Params{Pool: pool, Role: RoleWeb, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ctx := context.Background()
	st, cid, tok := subscribedCustomer(t, pool, secret)
	base := "http://" + srv.Addr() + "/u/"

	// A test send's link (send 0) went to a tester: it explains, and
	// changes nothing, whether followed or posted to.
	testTok := track.NewSigner(secret).Sign(track.Token{Purpose: track.PurposeUnsubscribe, StoreID: st.ID, CustomerID: cid})
	if resp, body := get(t, base+testTok); resp.StatusCode != http.StatusOK || !strings.Contains(body, "unsubscribes nobody") ||
		strings.Contains(body, "<form") {
		t.Fatalf("GET of a test link: %d %s", resp.StatusCode, body)
	}
	resp, err := http.Post(base+testTok, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || consent(t, pool, cid) != "subscribed" {
		t.Fatalf("POST of a test link: %d, consent %s; want 200 and no change", resp.StatusCode, consent(t, pool, cid))
	}

	resp, body := get(t, base+tok)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "U Shop") || !strings.Contains(body, "<form method=\"post\"") {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	if consent(t, pool, cid) != "subscribed" {
		t.Fatal("a GET (which mail scanners follow) unsubscribed the customer")
	}
	resp, err = http.Post(base+tok, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click POST: %d", resp.StatusCode)
	}
	if c := consent(t, pool, cid); c != "unsubscribed" {
		t.Errorf("consent after one-click: %q", c)
	}
	var n int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM suppressions WHERE store_id = $1 AND email = 'ana@example.com' AND reason = 'unsubscribed'`, st.ID).Scan(&n)
	if n != 1 {
		t.Errorf("address not suppressed")
	}
	forged := track.NewSigner("some-other-secret-xx").Sign(track.Token{Purpose: track.PurposeUnsubscribe, StoreID: st.ID, CustomerID: cid})
	for _, bad := range []string{forged, tok[:len(tok)-2], "nonsense"} {
		if resp, _ := get(t, base+bad); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET with bad token %q: %d, want 404", bad, resp.StatusCode)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func consent(t *testing.T, db store.DB, id int64) string {
	t.Helper()
	var c string
	if err := db.QueryRow(context.Background(), `SELECT consent FROM customers WHERE id = $1`, id).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}
