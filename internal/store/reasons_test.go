package store_test

import (
	"context"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/remarket/remarket/internal/store"
)

// TestSkipReasonsAgree: planning a campaign (count, sample, check, fill),
// claiming its rows and the check right before a send give every customer
// the same reason, for each reason there is, with and without a cap.
func TestSkipReasonsAgree(t *testing.T) {
	ctx := context.Background()
	pool, st := statsStore(t)
	ids := map[string]int64{}
	for _, c := range []struct{ name, email, consent, redacted string }{
		{"ok", "ok@example.com", "subscribed", ""},
		{"erased", "erased@example.com", "subscribed", "now()"},
		{"no email", "", "subscribed", ""},
		{"no consent", "unknown@example.com", "unknown", ""},
		{"suppressed", "bounced@example.com", "subscribed", ""},
		{"capped", "recent@example.com", "subscribed", ""},
		{"in flight", "flight@example.com", "subscribed", ""},
		{"mailed long ago", "old@example.com", "subscribed", ""},
	} {
		var id int64
		err := pool.QueryRow(ctx, `INSERT INTO customers (store_id, external_id, email, consent, redacted_at)
VALUES ($1, $2, NULLIF($3, ''), $4, CASE WHEN $5 = '' THEN NULL ELSE now() END) RETURNING id`,
			st.ID, c.name, c.email, c.consent, c.redacted).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ids[c.name] = id
	}
	if err := store.SuppressionAdd(ctx, pool, st.ID, "bounced@example.com", store.SuppressBounced, "550"); err != nil {
		t.Fatal(err)
	}
	// Another store's suppression of an address is not this store's.
	other, err := store.StoreInsert(ctx, pool, store.Store{Name: "Other", Platform: "generic", Domain: "other.example", WebhookSecret: "secret-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SuppressionAdd(ctx, pool, other.ID, "ok@example.com", store.SuppressBounced, "550"); err != nil {
		t.Fatal(err)
	}
	// Earlier campaigns: "capped" got two within the cap (counted once),
	// "in flight" is being sent one now (claimed, not yet sent).
	for _, s := range []struct{ name, status, sentAgo string }{
		{"capped", "sent", "1 hour"}, {"capped", "sent", "2 hours"}, {"mailed long ago", "sent", "30 hours"}, {"in flight", "sending", ""},
	} {
		earlier := newCampaign(t, pool, st.ID)
		if _, err := pool.Exec(ctx, `INSERT INTO sends (store_id, source_key, campaign_id, customer_id, status, claimed_at, sent_at)
VALUES ($1, 'campaign:' || $2::bigint, $2, $3, $4, now() - interval '1 minute', now() - NULLIF($5, '')::interval)`,
			st.ID, earlier, ids[s.name], s.status, s.sentAgo); err != nil {
			t.Fatal(err)
		}
	}
	for _, capHours := range []int{20, 0} {
		want := map[int64]string{ids["erased"]: store.SkipErased, ids["no email"]: store.SkipNoEmail,
			ids["no consent"]: store.SkipNoConsent, ids["suppressed"]: store.SkipSuppressed}
		if capHours > 0 {
			want[ids["capped"]], want[ids["in flight"]] = store.SkipFrequencyCap, store.SkipFrequencyCap
		}
		checkReasons(t, pool, st.ID, capHours, ids, want)
	}
}

// checkReasons compares every form of the rule with want (the skipped
// customers' reasons; "" for the rest of ids) under the cap.
func checkReasons(t *testing.T, db store.DB, storeID int64, capHours int, ids map[string]int64, want map[int64]string) {
	t.Helper()
	ctx := context.Background()
	a := store.Audience{StoreID: storeID, Where: "true", FrequencyCapHour: capHours}
	counts, err := store.AudienceCount(ctx, db, a)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]int64{"": int64(len(ids) - len(want))}
	for _, r := range want {
		wantCounts[r]++
	}
	if !maps.Equal(counts, wantCounts) {
		t.Errorf("cap %d: audience counts %v, want %v", capHours, counts, wantCounts)
	}
	for name, id := range ids {
		in, reason, err := store.AudienceCheck(ctx, db, a, id)
		if err != nil {
			t.Fatal(err)
		}
		if !in || reason != want[id] {
			t.Errorf("cap %d: check of %s: in %v, %q; want in, %q", capHours, name, in, reason, want[id])
		}
	}
	planned := newCampaign(t, db, storeID)
	if _, err := store.LedgerFill(ctx, db, planned, a); err != nil {
		t.Fatal(err)
	}
	filled := map[int64]string{}
	rows, err := db.Query(ctx, `SELECT customer_id, reason FROM sends WHERE campaign_id = $1 AND status = 'skipped'`, planned)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var r string
		if err := rows.Scan(&id, &r); err != nil {
			t.Fatal(err)
		}
		filled[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(filled, want) {
		t.Errorf("cap %d: ledger fill skipped %v, want %v", capHours, filled, want)
	}
	sample, reasons, err := store.AudienceSample(ctx, db, a, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(sample) != len(ids) {
		t.Errorf("cap %d: sample of %d customers, want %d", capHours, len(sample), len(ids))
	}
	for i, id := range sample {
		if reasons[i] != want[id] {
			t.Errorf("cap %d: sample: customer %d %q, want %q", capHours, id, reasons[i], want[id])
		}
	}
	// The claim's own check, on rows queued for every customer (planning
	// would have skipped some at once).
	camp := newCampaign(t, db, storeID)
	for _, id := range ids {
		if _, err := db.Exec(ctx, `INSERT INTO sends (store_id, source_key, campaign_id, customer_id)
VALUES ($1, 'campaign:' || $2::bigint, $2, $3)`, storeID, camp, id); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := store.SendClaimMany(ctx, db, camp, 0, math.MaxInt64, 100, capHours)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != len(ids) {
		t.Fatalf("cap %d: claimed %d rows, want %d", capHours, len(claimed), len(ids))
	}
	for _, c := range claimed {
		if c.SkipReason != want[c.CustomerID] {
			t.Errorf("cap %d: claim of customer %d: %q, want %q", capHours, c.CustomerID, c.SkipReason, want[c.CustomerID])
		}
	}
	// The check right before a send: the rows just claimed are being sent,
	// and do not cap their own customers.
	now, err := store.SkipReasonsNow(ctx, db, camp, slices.Collect(maps.Values(ids)), capHours)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(now, want) {
		t.Errorf("cap %d: re-check %v, want %v", capHours, now, want)
	}
}

// newCampaign is a draft campaign of the store, by id.
func newCampaign(t testing.TB, db store.DB, storeID int64) int64 {
	t.Helper()
	c, err := store.CampaignInsert(context.Background(), db, store.Campaign{StoreID: storeID, Name: "reasons",
		Template: "cross-sell", Strategy: "blend", K: 4, Segment: "orders>=0"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// TestClaimReadsRecentProducts: a claim carries the products sent to each
// customer within RecentDays, as RecentlyRecommendedMany reads them: not
// older ones, nor those of a send that failed.
func TestClaimReadsRecentProducts(t *testing.T) {
	ctx := context.Background()
	pool, st := statsStore(t)
	var cust, none int64
	if err := pool.QueryRow(ctx, `WITH c AS (INSERT INTO customers (store_id, external_id, email, consent)
VALUES ($1, 'a', 'a@example.com', 'subscribed'), ($1, 'b', 'b@example.com', 'subscribed') RETURNING id, external_id)
SELECT (SELECT id FROM c WHERE external_id = 'a'), (SELECT id FROM c WHERE external_id = 'b')`, st.ID).Scan(&cust, &none); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		status, ago string
		products    []int64
	}{{"sent", "2 days", []int64{1, 2}}, {"sent", "40 days", []int64{3}}, {"failed", "1 day", []int64{4}}, {"sent", "1 day", []int64{2, 5}}} {
		camp := newCampaign(t, pool, st.ID)
		if _, err := pool.Exec(ctx, `INSERT INTO sends (store_id, source_key, campaign_id, customer_id, status, sent_at, products)
VALUES ($1, 'campaign:' || $2::bigint, $2, $3, $4, now() - $5::interval, $6)`, st.ID, camp, cust, s.status, s.ago, s.products); err != nil {
			t.Fatal(err)
		}
	}
	want := []int64{1, 2, 5}
	read, err := store.RecentlyRecommendedMany(ctx, pool, []int64{cust})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(read[cust])); !slices.Equal(got, want) {
		t.Errorf("RecentlyRecommendedMany: %v, want %v", got, want)
	}
	camp := newCampaign(t, pool, st.ID)
	if _, err := pool.Exec(ctx, `INSERT INTO sends (store_id, source_key, campaign_id, customer_id)
VALUES ($1, 'campaign:' || $2::bigint, $2, $3), ($1, 'campaign:' || $2::bigint, $2, $4)`, st.ID, camp, cust, none); err != nil {
		t.Fatal(err)
	}
	claimed, err := store.SendClaimMany(ctx, pool, camp, 0, math.MaxInt64, 100, 0)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v, %d rows", err, len(claimed))
	}
	for _, c := range claimed {
		w := want
		if c.CustomerID == none {
			w = nil
		}
		if got := slices.Sorted(slices.Values(c.Recent)); !slices.Equal(got, w) {
			t.Errorf("claim: customer %d: recent %v, want %v", c.CustomerID, got, w)
		}
	}
}
