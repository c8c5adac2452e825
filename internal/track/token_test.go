package track

import (
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	s := NewSigner("a-very-secret-secret")
	want := Token{Purpose: PurposeUnsubscribe, StoreID: 3, CustomerID: 1 << 40, SendID: 77}
	tok := s.Sign(want)
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	got, err := s.Verify(tok, PurposeUnsubscribe)
	if err != nil || got != want {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.Verify(tok, PurposeClick); err == nil {
		t.Error("an unsubscribe token was accepted as a click token")
	}
	if _, err := NewSigner("another-secret-entirely").Verify(tok, PurposeUnsubscribe); err == nil {
		t.Error("a token signed with another secret was accepted")
	}
}

func TestTokenTampering(t *testing.T) {
	t.Parallel()
	s := NewSigner("a-very-secret-secret")
	tok := s.Sign(Token{Purpose: PurposeUnsubscribe, StoreID: 1, CustomerID: 2, SendID: 3})
	for i := range tok {
		b := []byte(tok)
		b[i] ^= 1
		if _, err := s.Verify(string(b), PurposeUnsubscribe); err == nil && string(b) != tok {
			t.Errorf("flipping character %d still verified", i)
		}
	}
	for _, bad := range []string{"", "x", "!!!!", strings.Repeat("A", 200)} {
		if _, err := s.Verify(bad, PurposeUnsubscribe); err == nil {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s := NewSigner("a-very-secret-secret")
	f.Add(s.Sign(Token{Purpose: PurposeUnsubscribe, StoreID: 1, CustomerID: 2}))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := s.Verify(tok, PurposeUnsubscribe)
		if err == nil && s.Sign(got) != tok {
			t.Fatalf("verified %q but it re-signs differently", tok)
		}
	})
}
