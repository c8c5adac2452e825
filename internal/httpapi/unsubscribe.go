package httpapi

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

var unsubscribePage = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
button{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#222;color:#fff;cursor:pointer}</style>
</head><body>
<h1>{{.Title}}</h1>
{{if .Test}}<p>This link comes from a test email or a preview of an email from {{.Store}}. It unsubscribes nobody: the customer's own email carries a link that works.</p>
{{else if .Done}}<p>You will not get marketing email from {{.Store}} any more. Order and delivery emails are not affected.</p>
{{else}}<p>Stop marketing email from {{.Store}}?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
{{end}}</body></html>
`))

type pageData struct {
	Title, Store string
	Done, Test   bool
}

// unsubscribeGet shows a confirmation page: mail scanners follow GET links,
// so a GET must never unsubscribe anyone.
func (a *API) unsubscribeGet(w http.ResponseWriter, r *http.Request) {
	tok, st, ok := a.unsubscribeToken(w, r)
	if !ok {
		return
	}
	if tok.Test() {
		page(w, http.StatusOK, pageData{Title: "A test link", Store: st.Name, Test: true})
		return
	}
	page(w, http.StatusOK, pageData{Title: "Unsubscribe", Store: st.Name})
}

// unsubscribePost unsubscribes at once: RFC 8058 one-click from the mail
// client (body List-Unsubscribe=One-Click), or the confirmation page's form.
func (a *API) unsubscribePost(w http.ResponseWriter, r *http.Request) {
	tok, st, ok := a.unsubscribeToken(w, r)
	if !ok {
		return
	}
	if tok.Test() {
		a.Log.InfoContext(r.Context(), "test unsubscribe link used: nothing changed", "store_id", st.ID, "customer_id", tok.CustomerID)
		page(w, http.StatusOK, pageData{Title: "A test link", Store: st.Name, Test: true})
		return
	}
	if err := store.CustomerUnsubscribe(r.Context(), a.DB, st.ID, tok.CustomerID, "unsubscribe link"); err != nil {
		a.Log.ErrorContext(r.Context(), "unsubscribe", "store_id", st.ID, "customer_id", tok.CustomerID, "error", err)
		reply(w, http.StatusServiceUnavailable, "could not unsubscribe just now, please try again")
		return
	}
	a.Log.InfoContext(r.Context(), "unsubscribed", "store_id", st.ID, "customer_id", tok.CustomerID, "send_id", tok.SendID)
	page(w, http.StatusOK, pageData{Title: "You are unsubscribed", Store: st.Name, Done: true})
}

// unsubscribeToken verifies the link's token and finds its store, or
// answers that the link is not valid (404), or, when the database fails,
// to try again (503).
func (a *API) unsubscribeToken(w http.ResponseWriter, r *http.Request) (track.Token, store.Store, bool) {
	tok, err := a.Links.Verify(r.PathValue("token"), track.PurposeUnsubscribe)
	if err != nil {
		page(w, http.StatusNotFound, pageData{Title: "This link is not valid", Store: "this shop"})
		return tok, store.Store{}, false
	}
	st, err := store.StoreGet(r.Context(), a.DB, tok.StoreID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		page(w, http.StatusNotFound, pageData{Title: "This link is not valid", Store: "this shop"})
		return tok, store.Store{}, false
	case err != nil: // the database, not the link: the customer can try again
		a.Log.ErrorContext(r.Context(), "unsubscribe: find store", "store_id", tok.StoreID, "error", err)
		reply(w, http.StatusServiceUnavailable, "could not unsubscribe just now, please try again")
		return tok, store.Store{}, false
	}
	return tok, st, true
}

func page(w http.ResponseWriter, code int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = unsubscribePage.Execute(w, d)
}
