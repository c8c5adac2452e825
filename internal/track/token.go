// Package track signs and checks the tokens in links that customers click:
// unsubscribe links now, click tracking later. A token names its purpose,
// store, customer and send; it is HMAC-SHA256-signed with REMARKET_SECRET,
// so it cannot be forged or guessed, and it holds no personal data.
package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Purposes a token can have; a token for one is refused for another.
const (
	PurposeUnsubscribe byte = 'u'
	PurposeClick       byte = 'c'
)

// Token is what a link carries.
type Token struct {
	Purpose    byte
	StoreID    int64
	CustomerID int64
	SendID     int64 // the ledger row, 0 for a test send
}

// Test reports whether the token comes from a test send or a preview
// (SendID 0): such a link shows what it would do, but unsubscribes nobody,
// since the email went to a tester, not to the customer it was rendered for.
func (t Token) Test() bool { return t.SendID == 0 }

// ErrBadToken is returned for a token that is malformed or not ours.
var ErrBadToken = errors.New("invalid or forged link")

const macLen = 16 // 128 bits: guessing is hopeless, links stay short

// Signer signs and verifies tokens with one secret.
type Signer struct{ key []byte }

// NewSigner derives the token key from the deployment's secret.
func NewSigner(secret string) *Signer {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("remarket link token v1"))
	return &Signer{key: m.Sum(nil)}
}

// Sign encodes t as a URL-safe string.
func (s *Signer) Sign(t Token) string {
	buf := make([]byte, 0, 1+3*binary.MaxVarintLen64+macLen)
	buf = append(buf, t.Purpose)
	buf = binary.AppendUvarint(buf, uint64(t.StoreID))
	buf = binary.AppendUvarint(buf, uint64(t.CustomerID))
	buf = binary.AppendUvarint(buf, uint64(t.SendID))
	buf = append(buf, s.mac(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Verify decodes a token for the wanted purpose and checks its signature in
// constant time.
func (s *Signer) Verify(token string, purpose byte) (Token, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 1+3+macLen {
		return Token{}, ErrBadToken
	}
	body, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(mac, s.mac(body)) || body[0] != purpose {
		return Token{}, ErrBadToken
	}
	t := Token{Purpose: body[0]}
	rest := body[1:]
	for _, dst := range []*int64{&t.StoreID, &t.CustomerID, &t.SendID} {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > 1<<62 {
			return Token{}, ErrBadToken
		}
		*dst, rest = int64(v), rest[n:]
	}
	if len(rest) != 0 {
		return Token{}, ErrBadToken
	}
	return t, nil
}

func (s *Signer) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}
