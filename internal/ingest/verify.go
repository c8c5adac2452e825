package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/remarket/remarket/internal/shop"
)

// Header names each platform signs and identifies deliveries with.
const (
	ShopifyHMAC      = "X-Shopify-Hmac-Sha256"
	ShopifyTopic     = "X-Shopify-Topic"
	ShopifyDomain    = "X-Shopify-Shop-Domain"
	ShopifyWebhookID = "X-Shopify-Webhook-Id"
	ShopifyEventID   = "X-Shopify-Event-Id"
	WooSignature     = "X-WC-Webhook-Signature"
	WooTopic         = "X-WC-Webhook-Topic"
	WooDeliveryID    = "X-WC-Webhook-Delivery-ID"
	GenericSignature = "X-Remarket-Signature"
	GenericEventID   = "X-Remarket-Event-Id"
)

// Verify reports whether the delivery's signature header matches body under
// secret, comparing in constant time. Each platform's scheme is HMAC-SHA256
// over the raw body: Shopify and WooCommerce send it base64-encoded, remarket's
// own format as "sha256=<hex>".
func Verify(platform shop.Platform, secret string, h http.Header, body []byte) bool {
	var got []byte
	var err error
	switch platform {
	case shop.Shopify:
		got, err = base64.StdEncoding.DecodeString(h.Get(ShopifyHMAC))
	case shop.WooCommerce:
		got, err = base64.StdEncoding.DecodeString(h.Get(WooSignature))
	case shop.Generic:
		hexSig, ok := strings.CutPrefix(h.Get(GenericSignature), "sha256=")
		if !ok {
			return false
		}
		got, err = hex.DecodeString(hexSig)
	default:
		return false
	}
	if err != nil || len(got) == 0 || secret == "" {
		return false
	}
	return hmac.Equal(got, Sign(secret, body))
}

// Sign returns the raw HMAC-SHA256 of body under secret.
func Sign(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// SignGeneric returns the X-Remarket-Signature value for body.
func SignGeneric(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(Sign(secret, body))
}

// Topic returns the delivery's topic: the platform's topic header, or
// "generic" for remarket's own format, where the type is in the body.
func Topic(platform shop.Platform, h http.Header) string {
	switch platform {
	case shop.Shopify:
		return h.Get(ShopifyTopic)
	case shop.WooCommerce:
		return h.Get(WooTopic)
	}
	return "generic"
}

// DedupeKey identifies a delivery so that a platform's retry is stored once.
//   - Shopify: the event id is shared by every retry of one merchant action;
//     older API versions only send the webhook id.
//   - WooCommerce's delivery id is a hash of the webhook id and the current
//     second, so two events in one second would collide: the body's hash is
//     part of the key (WooCommerce does not retry, so nothing is lost).
//   - Generic: X-Remarket-Event-Id, else the body's hash.
func DedupeKey(platform shop.Platform, topic string, h http.Header, body []byte) string {
	// Hashed only where a key needs it: bodies may be megabytes.
	bodyHash := func() string {
		sum := sha256.Sum256(body)
		return hex.EncodeToString(sum[:16])
	}
	switch platform {
	case shop.Shopify:
		if id := h.Get(ShopifyEventID); id != "" {
			return "shopify:" + topic + ":event:" + id
		}
		if id := h.Get(ShopifyWebhookID); id != "" {
			return "shopify:" + topic + ":webhook:" + id
		}
		return "shopify:" + topic + ":body:" + bodyHash()
	case shop.WooCommerce:
		return "woocommerce:" + topic + ":" + h.Get(WooDeliveryID) + ":" + bodyHash()
	}
	if id := h.Get(GenericEventID); id != "" {
		return "generic:event:" + id
	}
	return "generic:body:" + bodyHash()
}

// KeptHeaders returns the headers worth storing with a delivery: those used
// to verify and identify it, and a few that help an operator debug.
func KeptHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for name, vals := range h {
		c := http.CanonicalHeaderKey(name)
		if strings.HasPrefix(c, "X-Shopify-") || strings.HasPrefix(c, "X-Wc-Webhook-") ||
			strings.HasPrefix(c, "X-Remarket-") || c == "Content-Type" || c == "User-Agent" {
			out[c] = strings.Join(vals, ", ")
		}
	}
	return out
}
