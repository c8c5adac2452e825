package track

import (
	"net/url"
	"strings"
	"testing"
)

func TestUnsubscribeAddressRoundTrip(t *testing.T) {
	t.Parallel()
	s := NewSigner("a-very-secret-secret")
	const domain = "unsub.shop.example"
	for _, id := range []int64{0, 1, 127, 128, 1 << 20, 1<<35 - 1, 1<<49 - 1} {
		want := Token{Purpose: PurposeUnsubscribe, StoreID: id, CustomerID: id, SendID: id}
		tok := s.Sign(want)
		addr := UnsubscribeAddress(domain, tok)
		if local := addr[:strings.LastIndexByte(addr, '@')]; len(local) > 64 {
			t.Errorf("IDs %d: local part is %d octets, over RFC 5321's 64", id, len(local))
		}
		got, ok := ParseUnsubscribeAddress(addr, domain)
		if !ok || got != tok {
			t.Fatalf("ParseUnsubscribeAddress(%q) = %q, %v; want %q", addr, got, ok, tok)
		}
		// The prefix and the domain are matched in any case, the token exactly.
		if got, ok := ParseUnsubscribeAddress("UNSUBSCRIBE+"+tok+"@UNSUB.Shop.Example", domain); !ok || got != tok {
			t.Errorf("upper-case prefix and domain: %q, %v", got, ok)
		}
		if v, err := s.Verify(got, PurposeUnsubscribe); err != nil || v != want {
			t.Errorf("Verify = %+v, %v; want %+v", v, err, want)
		}
		u, err := url.Parse(MailtoUnsubscribe(domain, tok))
		if err != nil || u.Scheme != "mailto" || u.Opaque != addr || u.Query().Get("subject") != "unsubscribe" {
			t.Errorf("MailtoUnsubscribe = %q: parsed %+v, %v", MailtoUnsubscribe(domain, tok), u, err)
		}
	}
}

func TestParseUnsubscribeAddressRefuses(t *testing.T) {
	t.Parallel()
	const domain = "unsub.shop.example"
	for _, addr := range []string{
		"", "@", "unsubscribe+@unsub.shop.example", "unsubscribe@unsub.shop.example",
		"postmaster@unsub.shop.example", "unsubscribe+abc@shop.example", "unsubscribe+abc@unsub.shop.example.",
		"unsubscribe+abc", "unsubscribe+a.b@unsub.shop.example", "unsubscribe+a+b@unsub.shop.example",
		"unsubscribe+a=@unsub.shop.example", "unsubscribe+a/b@unsub.shop.example",
		"unsubscribe+abc@unſub.shop.example", // U+017F folds to 's' in Unicode, not in DNS
		"unsubscribe+" + strings.Repeat("A", 65) + "@unsub.shop.example",
	} {
		if tok, ok := ParseUnsubscribeAddress(addr, domain); ok {
			t.Errorf("ParseUnsubscribeAddress(%q) = %q, true; want refused", addr, tok)
		}
	}
	if _, ok := ParseUnsubscribeAddress("unsubscribe+abc@", ""); ok {
		t.Error("an empty domain matched")
	}
}

// FuzzParseUnsubscribeAddress: make fuzz, or
// go test ./internal/track -run XXX -fuzz FuzzParseUnsubscribeAddress -fuzztime 20s
func FuzzParseUnsubscribeAddress(f *testing.F) {
	s := NewSigner("a-very-secret-secret")
	const domain = "unsub.shop.example"
	valid := s.Sign(Token{Purpose: PurposeUnsubscribe, StoreID: 1, CustomerID: 2, SendID: 3})
	f.Add(UnsubscribeAddress(domain, valid), domain)
	f.Add("UNSUBSCRIBE+"+valid+"@Unsub.Shop.Example", domain)
	f.Add("unsubscribe+"+valid+"@other.example", domain)
	f.Add("unsubscribe+@"+domain, domain)
	f.Add("postmaster@"+domain, domain)
	f.Add("", "")
	f.Add("unsubscribe+a@b@c", "c")
	f.Fuzz(func(t *testing.T, addr, dom string) {
		tok, ok := ParseUnsubscribeAddress(addr, dom)
		if !ok {
			if tok != "" {
				t.Fatalf("refused %q but returned token %q", addr, tok)
			}
			return
		}
		// What is accepted is exactly an address UnsubscribeAddress makes,
		// up to the case of the prefix and domain.
		want := UnsubscribeAddress(dom, tok)
		if len(addr) != len(want) || addr[len(unsubscribePrefix):len(unsubscribePrefix)+len(tok)] != tok ||
			!strings.EqualFold(addr, want) {
			t.Fatalf("accepted %q as token %q, but that makes %q", addr, tok, want)
		}
		if tok == "" || len(tok) > maxTokenLen || strings.ContainsAny(tok, "@.+=/ \"\\") {
			t.Fatalf("accepted token %q from %q", tok, addr)
		}
		if got, ok := ParseUnsubscribeAddress(want, dom); !ok || got != tok {
			t.Fatalf("round trip of %q: %q, %v", want, got, ok)
		}
		// Whatever passes goes to Verify, which must not panic either.
		if v, err := s.Verify(tok, PurposeUnsubscribe); err == nil && s.Sign(v) != tok {
			t.Fatalf("verified %q but it re-signs differently", tok)
		}
	})
}
