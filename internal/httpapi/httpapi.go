// Package httpapi is remarket's HTTP surface: webhook endpoints and health.
// Handlers decode, call one service and map its error to a status; status
// codes live only here.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

// MaxBody is the largest delivery accepted; Shopify's largest orders are far
// below it, and a cap keeps one request from exhausting memory.
const MaxBody = 5 << 20

// Acceptor stores a verified delivery durably; *ingest.Accepter is one.
type Acceptor interface {
	Accept(ctx context.Context, d store.Delivery) (ingest.Accepted, error)
}

// StoreFinder looks a store up by id, name or domain.
type StoreFinder interface {
	Find(ctx context.Context, ref string) (store.Store, error)
}

// API holds the handlers' dependencies.
type API struct {
	Stores   StoreFinder
	Accepter Acceptor
	DB       store.DB
	Links    *track.Signer // nil: no link endpoints (no REMARKET_SECRET)
	// Recs and AdminToken enable the admin API (REMARKET_ADMIN_TOKEN).
	Recs       Recommender
	AdminToken string
	Log        *slog.Logger
}

// Routes returns the router with every endpoint.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/shopify", a.webhook(shop.Shopify))
	mux.HandleFunc("POST /webhooks/woocommerce/{store}", a.webhook(shop.WooCommerce))
	mux.HandleFunc("POST /webhooks/generic/{store}", a.webhook(shop.Generic))
	if a.Links != nil {
		mux.HandleFunc("GET /u/{token}", a.unsubscribeGet)
		mux.HandleFunc("POST /u/{token}", a.unsubscribePost)
	}
	if a.AdminToken != "" && a.Recs != nil {
		mux.HandleFunc("GET /admin/recs", a.adminRecs)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, "ok") })
	return mux
}

func (a *API) webhook(platform shop.Platform) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if platform == shop.WooCommerce && isWooPing(r) {
			reply(w, http.StatusOK, "pong")
			return
		}
		if !isJSON(r.Header.Get("Content-Type")) {
			reply(w, http.StatusUnsupportedMediaType, "content type must be application/json")
			return
		}
		if r.ContentLength > MaxBody {
			reply(w, http.StatusRequestEntityTooLarge, "body over 5 MiB")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				reply(w, http.StatusRequestEntityTooLarge, "body over 5 MiB")
				return
			}
			reply(w, http.StatusBadRequest, "could not read body")
			return
		}
		st, ok := a.findStore(w, r, platform)
		if !ok {
			return
		}
		if !ingest.Verify(platform, st.WebhookSecret, r.Header, body) {
			reply(w, http.StatusUnauthorized, "missing or wrong signature")
			return
		}
		a.accept(w, r, platform, st, body)
	}
}

func (a *API) findStore(w http.ResponseWriter, r *http.Request, platform shop.Platform) (store.Store, bool) {
	ref := r.PathValue("store")
	if platform == shop.Shopify {
		ref = r.Header.Get(ingest.ShopifyDomain)
	}
	if ref == "" {
		reply(w, http.StatusNotFound, "unknown store")
		return store.Store{}, false
	}
	st, err := a.Stores.Find(r.Context(), ref)
	if errors.Is(err, store.ErrNotFound) || (err == nil && platform != shop.Generic && st.Platform != string(platform)) {
		reply(w, http.StatusNotFound, "unknown store")
		return store.Store{}, false
	}
	if err != nil {
		a.Log.ErrorContext(r.Context(), "find store", "error", err)
		reply(w, http.StatusServiceUnavailable, "try again")
		return store.Store{}, false
	}
	return st, true
}

func (a *API) accept(w http.ResponseWriter, r *http.Request, platform shop.Platform, st store.Store, body []byte) {
	topic := ingest.Topic(platform, r.Header)
	if topic == "" {
		reply(w, http.StatusBadRequest, "missing topic header")
		return
	}
	res, err := a.Accepter.Accept(r.Context(), store.Delivery{
		StoreID:   st.ID,
		Platform:  string(platform),
		Topic:     topic,
		DedupeKey: ingest.DedupeKey(platform, topic, r.Header, body),
		Headers:   ingest.KeptHeaders(r.Header),
		Body:      body,
	})
	if err != nil {
		a.Log.ErrorContext(r.Context(), "accept delivery", "store_id", st.ID, "error", err)
		reply(w, http.StatusServiceUnavailable, "not stored, try again")
		return
	}
	if res.Duplicate {
		reply(w, http.StatusOK, "duplicate")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]int64{"inbox_id": res.InboxID})
}

// isWooPing recognises the unsigned form post WooCommerce sends when a
// webhook is saved; anything but 200 makes the merchant's save fail.
func isWooPing(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" || r.Header.Get(ingest.WooSignature) != "" {
		return false
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 4096)
	return r.ParseForm() == nil && r.PostForm.Get("webhook_id") != ""
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}
