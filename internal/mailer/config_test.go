package mailer

import (
	"strings"
	"testing"

	"github.com/wneessen/go-mail"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want endpoint
	}{
		{"smtp://mail.example.com", endpoint{host: "mail.example.com", port: 587, policy: mail.TLSMandatory, authType: mail.SMTPAuthNoAuth}},
		{"smtp://u:p@mail.example.com:2525?starttls=opportunistic", endpoint{host: "mail.example.com", port: 2525, policy: mail.TLSOpportunistic, user: "u", pass: "p", authType: mail.SMTPAuthAutoDiscover}},
		{"smtp://127.0.0.1:1025?starttls=none", endpoint{host: "127.0.0.1", port: 1025, policy: mail.NoTLS, authType: mail.SMTPAuthNoAuth}},
		{"smtp://127.0.0.1:1025?starttls=NONE", endpoint{host: "127.0.0.1", port: 1025, policy: mail.NoTLS, authType: mail.SMTPAuthNoAuth}},
		{"smtps://u%40x:p%3Aq@smtp.example.com", endpoint{host: "smtp.example.com", port: 465, ssl: true, policy: mail.TLSMandatory, user: "u@x", pass: "p:q", authType: mail.SMTPAuthAutoDiscover}},
		{"smtp://u:p@[::1]:25?auth=login", endpoint{host: "::1", port: 25, policy: mail.TLSMandatory, user: "u", pass: "p", authType: mail.SMTPAuthLogin}},
		{"SMTP://mail.example.com/", endpoint{host: "mail.example.com", port: 587, policy: mail.TLSMandatory, authType: mail.SMTPAuthNoAuth}},
	} {
		got, err := parseURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("parseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"", "empty"},
		{"mail.example.com:25", "scheme"},
		{"http://mail.example.com", `scheme "http" is not smtp or smtps`},
		{"smtp:mail.example.com", "two slashes"},
		{"smtp://:25", "no host"},
		{"smtp://mail.example.com:0", `port "0"`},
		{"smtp://mail.example.com:99999", `port "99999"`},
		{"smtp://mail.example.com:", "empty port"},
		{"smtp://mail.example.com/path", `unexpected path "/path"`},
		{"smtp://mail.example.com?starttls=yes", `starttls="yes" must be required, opportunistic or none`},
		{"smtp://mail.example.com?tls=none", `unknown parameter "tls"`},
		{"smtp://mail.example.com?starttls=none&starttls=required", "given 2 times"},
		{"smtps://mail.example.com?starttls=none", "does not apply to smtps"},
		{"smtp://user@mail.example.com", "has no password"},
		{"smtp://:secret@mail.example.com", "empty user name"},
		{"smtp://mail.example.com?auth=plain", "needs user:password@"},
		{"smtp://u:secret@mail.example.com?auth=ntlm2", `auth="ntlm2"`},
		{"smtp://u:secret@mail.example.com:x", "does not parse"},
		{"smtp://u:secret@mail.example.com#frag", "fragment"},
	} {
		_, err := parseURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseURL(%q) error = %v, want it to say %q", tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("parseURL(%q) error shows the password: %v", tc.url, err)
		}
		if ValidateURL(tc.url) == nil {
			t.Errorf("ValidateURL(%q) = nil", tc.url)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{URL: "http://x"},
		{URL: "smtp://x", Connections: -1},
		{URL: "smtp://x", Timeout: -1},
		{URL: "smtp://x", RatePerSecond: -1},
	} {
		if m, err := New(cfg); err == nil {
			_ = m.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	m, err := New(Config{URL: "smtp://x"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if cap(m.sem) != DefaultConnections || m.timeout != DefaultTimeout || m.limiter != nil {
		t.Errorf("defaults: %d connections, timeout %s, limiter %v", cap(m.sem), m.timeout, m.limiter)
	}
}
