// Package config reads remarket's settings from the environment; command-line
// flags override them. Validate says in one line what is wrong with a value.
package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Defaults used when neither a flag nor the environment sets a value.
const (
	DefaultDatabaseURL = "postgres://localhost:5432/remarket?sslmode=disable"
	DefaultHTTPAddr    = "127.0.0.1:8080"
)

// Config is everything a remarket process needs to know about its world.
type Config struct {
	DatabaseURL string // REMARKET_DATABASE_URL
	HTTPAddr    string // REMARKET_HTTP_ADDR
	PublicURL   string // REMARKET_PUBLIC_URL: how customers reach this server (links, unsubscribe)
	Secret      string // REMARKET_SECRET: signs tokens; serve refuses to start without it
	SMTPURL     string // REMARKET_SMTP_URL
	AdminToken  string // REMARKET_ADMIN_TOKEN
	Templates   string // REMARKET_TEMPLATES
	SMTPRate    string // REMARKET_SMTP_RATE: messages per second across connections, 0 for no limit
	// SMTPConnections is how many SMTP connections serve keeps open and
	// sends over at once, 1–64 (REMARKET_SMTP_CONNECTIONS; default
	// DefaultSMTPConnections).
	SMTPConnections string
	// InboundAddr is where serve (web and all) runs the inbound SMTP server
	// that takes unsubscribe mail; empty: none (REMARKET_INBOUND_ADDR).
	InboundAddr string
	// UnsubscribeDomain is the domain of the mailto: unsubscribe address,
	// unsubscribe+TOKEN@domain; emails carry it only when it is set, and its
	// MX must lead to an inbound server (REMARKET_UNSUBSCRIBE_DOMAIN).
	UnsubscribeDomain string
	// InboundTLSCert and InboundTLSKey are PEM files; with both set the
	// inbound server offers STARTTLS (REMARKET_INBOUND_TLS_CERT,
	// REMARKET_INBOUND_TLS_KEY).
	InboundTLSCert, InboundTLSKey string
}

// Env lists each setting's variable, for help texts and FromEnv.
var Env = map[string]string{
	"database-url": "REMARKET_DATABASE_URL",
	"http-addr":    "REMARKET_HTTP_ADDR",
	"public-url":   "REMARKET_PUBLIC_URL",
	"secret":       "REMARKET_SECRET",
	"smtp-url":     "REMARKET_SMTP_URL",
	"admin-token":  "REMARKET_ADMIN_TOKEN",
	"templates":    "REMARKET_TEMPLATES",
	"smtp-rate":    "REMARKET_SMTP_RATE",

	"smtp-connections": "REMARKET_SMTP_CONNECTIONS",

	"inbound-addr":       "REMARKET_INBOUND_ADDR",
	"unsubscribe-domain": "REMARKET_UNSUBSCRIBE_DOMAIN",
	"inbound-tls-cert":   "REMARKET_INBOUND_TLS_CERT",
	"inbound-tls-key":    "REMARKET_INBOUND_TLS_KEY",
}

// FromEnv reads the settings through getenv (os.Getenv in production),
// filling defaults.
func FromEnv(getenv func(string) string) Config {
	c := Config{
		DatabaseURL: getenv("REMARKET_DATABASE_URL"),
		HTTPAddr:    getenv("REMARKET_HTTP_ADDR"),
		PublicURL:   getenv("REMARKET_PUBLIC_URL"),
		Secret:      getenv("REMARKET_SECRET"),
		SMTPURL:     getenv("REMARKET_SMTP_URL"),
		AdminToken:  getenv("REMARKET_ADMIN_TOKEN"),
		Templates:   getenv("REMARKET_TEMPLATES"),
		SMTPRate:    getenv("REMARKET_SMTP_RATE"),

		SMTPConnections: getenv("REMARKET_SMTP_CONNECTIONS"),

		InboundAddr:       getenv("REMARKET_INBOUND_ADDR"),
		UnsubscribeDomain: getenv("REMARKET_UNSUBSCRIBE_DOMAIN"),
		InboundTLSCert:    getenv("REMARKET_INBOUND_TLS_CERT"),
		InboundTLSKey:     getenv("REMARKET_INBOUND_TLS_KEY"),
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	return c
}

// Validate checks every value that is set and returns the first problem,
// phrased for the operator.
func (c Config) Validate() error {
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("REMARKET_DATABASE_URL %q is not a postgres:// URL", c.DatabaseURL)
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		return fmt.Errorf("REMARKET_HTTP_ADDR %q is not host:port (for example 127.0.0.1:8080)", c.HTTPAddr)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("REMARKET_PUBLIC_URL %q is not an absolute http(s) URL", c.PublicURL)
		}
	}
	if c.SMTPURL != "" {
		if err := validateSMTP(c.SMTPURL); err != nil {
			return err
		}
	}
	if c.SMTPRate != "" {
		if r, err := strconv.ParseFloat(c.SMTPRate, 64); err != nil || r < 0 {
			return fmt.Errorf("REMARKET_SMTP_RATE %q is not a number of messages per second (0 for no limit)", c.SMTPRate)
		}
	}
	if c.SMTPConnections != "" {
		if n, err := strconv.Atoi(c.SMTPConnections); err != nil || n < 1 || n > 64 {
			return fmt.Errorf("REMARKET_SMTP_CONNECTIONS %q is not a number of connections from 1 to 64", c.SMTPConnections)
		}
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		return fmt.Errorf("REMARKET_SECRET is too short: use at least 16 characters")
	}
	if c.InboundAddr != "" {
		if _, port, err := net.SplitHostPort(c.InboundAddr); err != nil || !validPort(port) {
			return fmt.Errorf("REMARKET_INBOUND_ADDR %q is not host:port (for example :25 or 127.0.0.1:2525)", c.InboundAddr)
		}
		if c.UnsubscribeDomain == "" {
			return fmt.Errorf("REMARKET_INBOUND_ADDR is set but REMARKET_UNSUBSCRIBE_DOMAIN is not: the inbound server takes mail only for unsubscribe+TOKEN@ that domain")
		}
	}
	if (c.InboundTLSCert == "") != (c.InboundTLSKey == "") {
		return fmt.Errorf("set both REMARKET_INBOUND_TLS_CERT and REMARKET_INBOUND_TLS_KEY (PEM files), or neither")
	}
	if c.InboundTLSCert != "" && c.InboundAddr == "" {
		return fmt.Errorf("REMARKET_INBOUND_TLS_CERT is set but REMARKET_INBOUND_ADDR is not: the certificate is for the inbound SMTP server")
	}
	if c.UnsubscribeDomain != "" {
		if err := validateDomain(c.UnsubscribeDomain); err != nil {
			return fmt.Errorf("REMARKET_UNSUBSCRIBE_DOMAIN %q %w", c.UnsubscribeDomain, err)
		}
	}
	return nil
}

func validPort(p string) bool {
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && (n > 0 || p == "0")
}

// validateDomain checks a DNS host name as it goes into an email address:
// ASCII letters, digits and hyphens in dot-separated labels of 1–63
// characters, at least two labels, no trailing dot. It returns the rest of
// a sentence: "is not …".
func validateDomain(d string) error {
	if net.ParseIP(d) != nil {
		return fmt.Errorf("is an IP address: use a domain whose MX points at REMARKET_INBOUND_ADDR")
	}
	if len(d) > 253 {
		return fmt.Errorf("is longer than 253 characters")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("is not a domain name such as unsub.shop.example")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("is not a domain name such as unsub.shop.example (empty, too long or hyphen-edged label %q)", l)
		}
		for _, c := range l {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("is not a domain name such as unsub.shop.example (%q is not an ASCII letter, digit or hyphen; write an international name in its xn-- form)", c)
			}
		}
	}
	return nil
}

func validateSMTP(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return fmt.Errorf("REMARKET_SMTP_URL %q is not smtp://host:port or smtps://host:port", raw)
	}
	switch p := u.Query().Get("starttls"); strings.ToLower(p) {
	case "", "required", "opportunistic", "none":
	default:
		return fmt.Errorf("REMARKET_SMTP_URL: starttls=%q must be required, opportunistic or none", p)
	}
	return nil
}

// SMTPRatePerSecond is SMTPRate as a number (0: no limit).
func (c Config) SMTPRatePerSecond() float64 {
	r, _ := strconv.ParseFloat(c.SMTPRate, 64)
	return r
}

// DefaultSMTPConnections is how many SMTP connections serve opens unless
// told: half the send workers (campaign.EmailWorkers), since many servers
// limit a client's connections at once.
const DefaultSMTPConnections = 8

// SMTPConnectionCount is SMTPConnections as a number, or the default.
func (c Config) SMTPConnectionCount() int {
	if n, err := strconv.Atoi(c.SMTPConnections); err == nil && n > 0 {
		return n
	}
	return DefaultSMTPConnections
}

// PublicBase returns PublicURL, or http://HTTPAddr when it is unset.
func (c Config) PublicBase() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.HTTPAddr
}
