package inbound

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// TestStartTLS: with a certificate the server offers STARTTLS, and an
// unsubscribe delivered over it works; without one it offers none.
func TestStartTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t, testDomain)
	b := setup(t, func(p *Params) {
		p.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	ana, anaAddr := b.customer(t, "ana@customer.example")

	c := dial(t, b.srv.Addr())
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	must(t, c.StartTLS(&tls.Config{ServerName: testDomain, RootCAs: pool}))
	if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Fatal("no TLS after STARTTLS")
	}
	must(t, c.Mail("ana@customer.example"))
	must(t, c.Rcpt(anaAddr))
	must(t, data(c, "unsubscribe me\r\n"))
	if !b.unsubscribed(t, ana) {
		t.Fatal("not unsubscribed over TLS")
	}

	plain := setup(t, nil)
	if ok, _ := dial(t, plain.srv.Addr()).Extension("STARTTLS"); ok {
		t.Fatal("STARTTLS offered without a certificate")
	}
}

// selfSigned makes a certificate for host and a pool that trusts it.
func selfSigned(t *testing.T, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	leaf, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
