package mailer

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// Defaults applied by New when a Config field is zero.
const (
	DefaultConnections = 4
	DefaultTimeout     = 30 * time.Second
)

// Config says where and how fast the Mailer sends.
type Config struct {
	// URL names the server:
	//   smtp://user:pass@host:587?starttls=required|opportunistic|none
	//   smtps://user:pass@host:465   (implicit TLS)
	// starttls defaults to required. The port defaults to 587 for smtp and 465
	// for smtps. With a user, auth= picks the mechanism (auto, plain, login,
	// cram-md5, scram-sha-1, scram-sha-256, xoauth2; default auto, which never
	// sends PLAIN or LOGIN over an unencrypted connection).
	URL string
	// RatePerSecond caps messages per second across all connections
	// (a token bucket with a burst of one); 0 means unlimited.
	RatePerSecond float64
	// Connections is the number of SMTP connections kept open and reused
	// (default 4). It is also the number of messages in flight at once.
	Connections int
	// Timeout bounds the dial (TCP, greeting, STARTTLS, AUTH) and, separately,
	// each message's whole SMTP transaction (default 30s).
	Timeout time.Duration
	// HeloName is the EHLO name (default: the host name of this machine).
	HeloName string
	// NoNoopRset skips go-mail's NOOP before each message and RSET after each
	// delivered one: two round trips fewer per message. It is safe because a
	// connection found broken at MAIL FROM is redialled once transparently, and
	// the server resets the transaction itself after the end of DATA
	// (RFC 5321 §4.1.1.4). It also removes the "RSET failed after delivery"
	// case (ErrAfterHandoff).
	NoNoopRset bool
	// TLSConfig overrides the TLS settings (for a private CA); nil verifies
	// the server against the system roots with TLS 1.2 or later.
	TLSConfig *tls.Config
	// Logger receives warnings about redials; nil discards them.
	Logger *slog.Logger
}

// endpoint is a parsed Config.URL.
type endpoint struct {
	host     string
	port     int
	ssl      bool
	policy   mail.TLSPolicy
	user     string
	pass     string
	authType mail.SMTPAuthType // SMTPAuthNoAuth without a user
}

var authTypes = map[string]mail.SMTPAuthType{
	"auto":          mail.SMTPAuthAutoDiscover,
	"plain":         mail.SMTPAuthPlain,
	"login":         mail.SMTPAuthLogin,
	"cram-md5":      mail.SMTPAuthCramMD5,
	"scram-sha-1":   mail.SMTPAuthSCRAMSHA1,
	"scram-sha-256": mail.SMTPAuthSCRAMSHA256,
	"xoauth2":       mail.SMTPAuthXOAUTH2,
}

// ValidateURL reports what is wrong with an SMTP URL, or nil; see Config.URL.
func ValidateURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

// parseURL parses Config.URL. Its errors never contain the password.
func parseURL(raw string) (endpoint, error) {
	var ep endpoint
	if strings.TrimSpace(raw) == "" {
		return ep, fmt.Errorf("SMTP URL is empty: want smtp://host:587 or smtps://host:465")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: say less.
		return ep, fmt.Errorf("SMTP URL does not parse: want smtp://user:pass@host:port?starttls=required")
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "smtp":
		ep.port = mail.DefaultPortTLS
	case "smtps":
		ep.port = mail.DefaultPortSSL
		ep.ssl = true
	case "":
		return ep, fmt.Errorf("SMTP URL %q has no scheme: want smtp:// or smtps://", shown)
	default:
		return ep, fmt.Errorf("SMTP URL %q: scheme %q is not smtp or smtps", shown, u.Scheme)
	}
	if u.Opaque != "" {
		return ep, fmt.Errorf("SMTP URL %q: write %s://host, with two slashes", shown, u.Scheme)
	}
	ep.host = u.Hostname()
	if ep.host == "" {
		return ep, fmt.Errorf("SMTP URL %q has no host", shown)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return ep, fmt.Errorf("SMTP URL %q: port %q is not a number from 1 to 65535", shown, p)
		}
		ep.port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return ep, fmt.Errorf("SMTP URL %q: empty port after the colon", shown)
	}
	if u.Path != "" && u.Path != "/" {
		return ep, fmt.Errorf("SMTP URL %q: unexpected path %q", shown, u.Path)
	}
	if u.Fragment != "" {
		return ep, fmt.Errorf("SMTP URL %q: unexpected fragment #%s", shown, u.Fragment)
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return ep, fmt.Errorf("SMTP URL %q: query does not parse: %w", shown, err)
	}
	for k, v := range q {
		if k != "starttls" && k != "auth" {
			return ep, fmt.Errorf("SMTP URL %q: unknown parameter %q (known: starttls, auth)", shown, k)
		}
		if len(v) > 1 {
			return ep, fmt.Errorf("SMTP URL %q: parameter %q given %d times", shown, k, len(v))
		}
	}

	ep.policy = mail.TLSMandatory
	if q.Has("starttls") {
		v := strings.ToLower(q.Get("starttls"))
		if ep.ssl {
			return ep, fmt.Errorf("SMTP URL %q: starttls=%s does not apply to smtps, which is TLS from the first byte", shown, v)
		}
		switch v {
		case "required":
			ep.policy = mail.TLSMandatory
		case "opportunistic":
			ep.policy = mail.TLSOpportunistic
		case "none":
			ep.policy = mail.NoTLS
		default:
			return ep, fmt.Errorf("SMTP URL %q: starttls=%q must be required, opportunistic or none", shown, v)
		}
	}

	ep.authType = mail.SMTPAuthNoAuth
	if u.User != nil {
		ep.user = u.User.Username()
		pass, ok := u.User.Password()
		if ep.user == "" {
			return ep, fmt.Errorf("SMTP URL %q: empty user name before the @", shown)
		}
		if !ok {
			return ep, fmt.Errorf("SMTP URL %q: user %q has no password (write user:password@host)", shown, ep.user)
		}
		ep.pass = pass
		ep.authType = mail.SMTPAuthAutoDiscover
	}
	if q.Has("auth") {
		v := strings.ToLower(q.Get("auth"))
		t, ok := authTypes[v]
		if !ok {
			return ep, fmt.Errorf("SMTP URL %q: auth=%q must be one of auto, plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2", shown, v)
		}
		if u.User == nil {
			return ep, fmt.Errorf("SMTP URL %q: auth=%s needs user:password@ in the URL", shown, v)
		}
		ep.authType = t
	}
	return ep, nil
}
